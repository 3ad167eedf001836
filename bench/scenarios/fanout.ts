/**
 * Fan-out: one publisher, 1,000 subscribers of one room (optionally with
 * 10,000 more idle subscribers on other rooms), at rising publish rates
 * until the server saturates. Switchboard (Subscribe over gRPC h2c, one
 * HTTP/2 connection per subscriber by default; Send over gRPC) against a `ws` server
 * doing the same fan-out with JSON (bench/servers/ws-fanout.ts), and plain
 * node:http2 doing it on the same gRPC wire (bench/servers/raw-h2-fanout.ts):
 * the HTTP/2 floor.
 *
 * Load side (all on `loadCpu`): bench/load/fanout-subscribers.ts counts
 * deliveries on raw sockets and decodes one in 20 for the send→receive
 * latency; bench/load/fanout-publisher.ts publishes at the set rate.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { startServerProcess } from "../lib/proc.js";
import { addRatios, median } from "../lib/stats.js";
import type { BenchOptions, BenchRow, Scenario, ScenarioResult } from "../lib/types.js";
import { type LoadChild, startLoadChild } from "../load/fanout-child.js";
import type { SubscribersReport } from "../load/fanout-subscribers.js";

interface Impl {
  readonly impl: string;
  readonly client: "grpc" | "ws";
  readonly script: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Also run with the extra idle subscribers. */
  readonly withIdle: boolean;
}

interface Variant {
  readonly label: string;
  readonly idle: number;
}

interface RateResult {
  readonly row: BenchRow;
  readonly saturated: boolean;
}

const reference = "ws JSON";
/** The HTTP/2 floor: node:http2 alone, same gRPC wire as Switchboard. */
const rawH2 = "raw node:http2";
/** 1,000 Subscribe streams of one user: the default limit of 100 per user would refuse them. */
const switchboardEnv = { SWITCHBOARD_MAX_STREAMS_PER_USER: "20000" };
/**
 * Subscribe streams per HTTP/2 connection. Default 1: one connection per
 * subscriber, as the ws reference has one WebSocket per subscriber and as
 * browsers connect; BENCH_FANOUT_STREAMS_PER_CONNECTION=100 shows a gateway
 * multiplexing many subscribers over few connections.
 */
const streamsPerConnection = Number(process.env.BENCH_FANOUT_STREAMS_PER_CONNECTION ?? 1);
const sampleEvery = 20;
const p99GoalMs = 50;
const p99LimitMs = 1_000;

function impls(quick: boolean): Impl[] {
  const switchboard = (backend: string, withIdle: boolean): Impl => ({
    impl: `switchboard gRPC (${backend})`,
    client: "grpc",
    script: "bench/servers/switchboard.ts",
    args: ["--backend", backend],
    env: switchboardEnv,
    withIdle,
  });
  return [
    switchboard("memory", true),
    ...(quick ? [] : [switchboard("sqlite", false)]),
    {
      impl: rawH2,
      client: "grpc",
      script: "bench/servers/raw-h2-fanout.ts",
      args: [],
      env: {},
      withIdle: false,
    },
    {
      impl: reference,
      client: "ws",
      script: "bench/servers/ws-fanout.ts",
      args: [],
      env: {},
      withIdle: true,
    },
  ];
}

/** A comma-separated environment variable (hand runs), or undefined when unset. */
function envList(name: string): string[] | undefined {
  const raw = process.env[name]?.trim();
  return raw ? raw.split(",").map((v) => v.trim()) : undefined;
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
const num = (v: unknown) => (typeof v === "number" ? v : Number.NaN);

/** Runs the rising rates against one server process; stops after the first saturated rate. */
async function ramp(
  opts: BenchOptions,
  impl: Impl,
  variant: Variant,
  subscribers: number,
  rates: readonly number[],
  verified: string[],
): Promise<RateResult[]> {
  // The load processes start (tsx) while the server does; they get its port with their first command.
  const children: LoadChild[] = [];
  const base = { impl: impl.client, host: "127.0.0.1" };
  const idle =
    variant.idle > 0
      ? startLoadChild(
          "fanout-idle",
          "bench/load/fanout-subscribers.ts",
          {
            ...base,
            room: "idle",
            rooms: variant.idle,
            subscribers: variant.idle,
            connections: Math.ceil(variant.idle / streamsPerConnection),
            sampleEvery: 0,
          },
          opts.loadCpu,
        )
      : undefined;
  const subs = startLoadChild(
    "fanout-subscribers",
    "bench/load/fanout-subscribers.ts",
    {
      ...base,
      room: "fanout",
      rooms: 1,
      subscribers,
      connections: Math.ceil(subscribers / streamsPerConnection),
      sampleEvery,
    },
    opts.loadCpu,
  );
  const pub = startLoadChild(
    "fanout-publisher",
    "bench/load/fanout-publisher.ts",
    { ...base, room: "fanout", maxInFlight: 64 },
    opts.loadCpu,
  );
  children.push(...(idle ? [idle] : []), subs, pub);
  const server = await startServerProcess({
    name: `fanout-${impl.client === "ws" ? "ws" : (impl.args[1] ?? "raw-h2")}`,
    script: impl.script,
    args: impl.args,
    env: impl.env,
    cpu: opts.serverCpu,
  }).catch(async (e: unknown) => {
    await Promise.all(children.map((c) => c.stop()));
    throw e;
  });
  const target = {
    port: server.port,
    ...(typeof server.info.token === "string" ? { token: server.info.token } : {}),
  };
  try {
    if (idle) await idle.request("open", target, 300_000);
    const opened = await subs.request<{ ms: number }>("open", target, 120_000);
    opts.log(
      `  ${impl.impl}, ${variant.label}: ${subscribers} subscribers ready in ${Math.round(opened.ms)} ms`,
    );
    const loadCpu = () => children.reduce((sum, c) => sum + c.cpuSec(), 0);
    const results: RateResult[] = [];
    for (const rate of rates) {
      const offered = rate * subscribers;
      await pub.request("start", { ...target, rate });
      await sleep(opts.warmupSec * 1000);
      const reps: Record<string, number>[] = [];
      let last: SubscribersReport | undefined;
      for (let r = 0; r < opts.repeats; r++) {
        const s0 = server.sample();
        const l0 = loadCpu();
        const t0 = performance.now();
        await subs.request("mark");
        await sleep(opts.durationSec * 1000);
        last = await subs.request<SubscribersReport>("report");
        const wall = (performance.now() - t0) / 1000;
        const s1 = server.sample();
        const serverCpuPct = ((s1.cpuSec - s0.cpuSec) / wall) * 100;
        const deliveriesPerSec = last.deliveries / last.seconds;
        reps.push({
          deliveriesPerSec,
          p50Ms: num(last.p50Ms),
          p99Ms: num(last.p99Ms),
          serverCpuPct,
          rssMiB: s1.rssKiB / 1024,
          loadCpuPct: ((loadCpu() - l0) / wall) * 100,
          kDeliveriesPerCpuSec: deliveriesPerSec / Math.max(0.01, serverCpuPct / 100) / 1000,
        });
      }
      const published = await pub.request<Record<string, unknown>>("stop", {}, 30_000);
      if (!verified.some((v) => v.startsWith(`${impl.impl}:`)) && last !== undefined) {
        verified.push(
          `${impl.impl}: ${last.samples} sampled deliveries decoded with a timestamp, ` +
            `${last.badSamples} not; ${String(published.verified)}`,
        );
      }
      const metric = (name: string) =>
        median(reps.map((m) => m[name]).filter((v): v is number => Number.isFinite(v)));
      const metrics = {
        rate,
        offeredPerSec: offered,
        deliveriesPerSec: metric("deliveriesPerSec"),
        p50Ms: round(metric("p50Ms")),
        p99Ms: round(metric("p99Ms")),
        serverCpuPct: round(metric("serverCpuPct"), 1),
        rssMiB: round(metric("rssMiB"), 1),
        loadCpuPct: round(metric("loadCpuPct"), 1),
        kDeliveriesPerCpuSec: round(metric("kDeliveriesPerCpuSec"), 1),
      };
      const skipped = num(published.skipped);
      const sent = num(published.sent);
      const saturated =
        !(metrics.p99Ms <= p99LimitMs) ||
        metrics.deliveriesPerSec < 0.9 * offered ||
        skipped > 0.01 * (sent + skipped) ||
        last?.closed !== 0;
      opts.log(
        `    ${rate} msg/s: ${Math.round(metrics.deliveriesPerSec)}/${offered} deliveries/s, ` +
          `p50 ${metrics.p50Ms} ms, p99 ${metrics.p99Ms} ms, server CPU ${metrics.serverCpuPct} %, ` +
          `load CPU ${metrics.loadCpuPct} %, RSS ${metrics.rssMiB} MiB` +
          `, sends ${sent} (${num(published.acked)} acked, ${num(published.failed)} failed, ` +
          `${skipped} skipped)${last?.closed ? `, ${last.closed} streams ended` : ""}`,
      );
      results.push({
        row: {
          case: `${variant.label} @ ${rate} msg/s`,
          impl: impl.impl,
          metrics,
          samples: reps.map((m) => m.deliveriesPerSec!),
        },
        saturated,
      });
      if (saturated || rate === rates[rates.length - 1]) break;
      // Let the backlog of this rate drain before the next one starts.
      await subs.request("quiet", { idleMs: 300, maxMs: 10_000 }, 30_000);
    }
    return results;
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await server.stop();
  }
}

/** The two summary rows of one impl and variant: best rate within the p99 goal, and best overall. */
function saturationRows(variant: Variant, impl: string, rows: readonly BenchRow[]): BenchRow[] {
  const best = (pick: (r: BenchRow) => boolean) =>
    rows
      .filter(pick)
      .reduce<BenchRow | undefined>(
        (a, r) =>
          a === undefined || r.metrics.deliveriesPerSec! > a.metrics.deliveriesPerSec! ? r : a,
        undefined,
      );
  const within = best((r) => r.metrics.p99Ms! < p99GoalMs);
  const overall = best(() => true);
  const summary = (label: string, row: BenchRow | undefined): BenchRow => ({
    case: `${variant.label}: ${label}`,
    impl,
    metrics: row ? { ...row.metrics } : { deliveriesPerSec: 0 },
  });
  return [summary(`max with p99 < ${p99GoalMs} ms`, within), summary("max", overall)];
}

async function run(opts: BenchOptions): Promise<ScenarioResult> {
  const subscribers = opts.quick ? 100 : 1_000;
  const rates =
    envList("BENCH_FANOUT_RATES")?.map(Number) ??
    (opts.quick ? [50, 200] : [10, 25, 50, 100, 200, 400, 800, 1_600, 3_200]);
  const implFilter = envList("BENCH_FANOUT_IMPLS");
  const idle = Number(process.env.BENCH_FANOUT_IDLE ?? (opts.quick ? 0 : 10_000));
  const variants: Variant[] = [
    { label: `${subscribers} subs`, idle: 0 },
    ...(idle > 0 ? [{ label: `${subscribers} subs + ${idle / 1000}k idle`, idle }] : []),
  ];
  const verified: string[] = [];
  const rateRows: BenchRow[] = [];
  const summaryRows: BenchRow[] = [];
  const loadBound: string[] = [];
  const unsaturated: string[] = [];
  for (const variant of variants) {
    for (const impl of impls(opts.quick)) {
      if (variant.idle > 0 && !impl.withIdle) continue;
      if (implFilter && !implFilter.some((f) => impl.impl.includes(f))) continue;
      const results = await ramp(opts, impl, variant, subscribers, rates, verified);
      const rows = results.map((r) => r.row);
      rateRows.push(...rows);
      summaryRows.push(...saturationRows(variant, impl.impl, rows));
      if (results.at(-1)?.saturated !== true) unsaturated.push(`${impl.impl} (${variant.label})`);
      for (const r of rows) {
        if (r.metrics.loadCpuPct! >= 90) loadBound.push(`${r.impl} ${r.case}`);
      }
    }
  }
  const order = (rows: BenchRow[]) => {
    const cases = [...new Set(rows.map((r) => r.case))];
    return rows.sort((a, b) => cases.indexOf(a.case) - cases.indexOf(b.case));
  };
  const rows = [
    ...addRatios(order(rateRows), { reference, metric: "kDeliveriesPerCpuSec" }),
    ...addRatios(order(summaryRows), { reference, metric: "deliveriesPerSec" }),
  ].map(({ ratio, reference: ref, ratioMetric, ...row }) =>
    // A ratio with a zero on either side (nothing sustained within the goal) means nothing.
    ratio !== undefined && Number.isFinite(ratio) && ratio > 0
      ? { ...row, ratio, reference: ref, ratioMetric }
      : row,
  );
  return {
    id: "fanout",
    title: "Fan-out to one room",
    columns: [
      { metric: "offeredPerSec", label: "Offered deliveries/s", digits: 0 },
      { metric: "deliveriesPerSec", label: "Deliveries/s", digits: 0 },
      { metric: "p50Ms", label: "p50 ms", digits: 2 },
      { metric: "p99Ms", label: "p99 ms", digits: 2 },
      { metric: "serverCpuPct", label: "Server CPU %", digits: 0 },
      { metric: "rssMiB", label: "Server RSS MiB", digits: 0 },
      { metric: "kDeliveriesPerCpuSec", label: "k deliveries / CPU-s", digits: 0 },
      { metric: "loadCpuPct", label: "Load CPU %", digits: 0 },
    ],
    rows,
    notes: [
      `One room, ${subscribers} subscribers, one publisher sending at each rate (messages/s) ` +
        `until the server saturates (deliveries < 90 % of offered, p99 > ${p99LimitMs} ms, ` +
        `sends skipped or streams ended); offered deliveries/s = rate × subscribers.`,
      `Switchboard: Subscribe over gRPC h2c, ${streamsPerConnection} stream(s) per HTTP/2 ` +
        "connection (1 = one connection per subscriber, like the WebSockets); the publisher calls Send (gRPC) — with sqlite, a message is durable before " +
        "it is fanned out. Per-user stream limit raised with SWITCHBOARD_MAX_STREAMS_PER_USER=20000; " +
        "send rate limit off (bench/servers/switchboard.ts).",
      "raw node:http2 (bench/servers/raw-h2-fanout.ts): the same gRPC Subscribe and Send wire " +
        "on plain node:http2, one connection per subscriber as above; each message encoded once " +
        "and the same buffer written to every subscriber's stream. No auth, no validation, no " +
        "persistence, no metrics: what HTTP/2 itself costs per delivery in Node.",
      "ws JSON (bench/servers/ws-fanout.ts): one WebSocket per subscriber; the server " +
        "JSON-encodes each message once and sends the same buffer to every subscriber, and acks " +
        "the publisher. No persistence, no auth.",
      `Latency: the publisher's process.hrtime (ns) is the message text; one delivery in ` +
        `${sampleEvery} is decoded by the subscriber process (fromBinary SubscribeResponse / ` +
        "JSON.parse) and compared with its own clock (CLOCK_MONOTONIC, shared by the processes).",
      "Load side: raw-socket HTTP/2 and WebSocket clients that count messages without decoding " +
        "them (bench/load/), all pinned to the load CPU; 'Load CPU %' is the sum over the load " +
        "processes. Server CPU % and RSS from /proc over each measured window.",
      "Ratio column: on the rate rows, deliveries per server CPU-second vs ws (CPU efficiency at " +
        "the same offered load); on the summary rows, deliveries/s vs ws.",
      ...(opts.quick
        ? []
        : [
            `The '+ 10k idle' rows add 10,000 subscribers, each alone in its own other room (${Math.ceil(10_000 / streamsPerConnection)} HTTP/2 connections, or 10,000 WebSockets), that receive nothing.`,
          ]),
      ...(unsaturated.length > 0
        ? [
            `Not saturated at the highest rate, so its "max" rows are lower bounds: ${unsaturated.join("; ")}.`,
          ]
        : []),
      ...(loadBound.length > 0
        ? [`Load CPU ≥ 90 % (the load side may limit these): ${loadBound.join("; ")}.`]
        : []),
      ...verified.map((v) => `Verified: ${v}.`),
    ],
    charts: [
      {
        file: "fanout-deliveries",
        title: "Fan-out: deliveries per second",
        metric: "deliveriesPerSec",
        unit: "deliveries/s",
      },
      {
        file: "fanout-p99",
        title: "Fan-out: p99 send→receive latency",
        metric: "p99Ms",
        unit: "ms",
      },
    ],
  };
}

export default {
  id: "fanout",
  title: "Fan-out to one room",
  run,
} satisfies Scenario;
