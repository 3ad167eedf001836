/**
 * Memory per idle Subscribe stream: the server's RSS growth while 10,000
 * Subscribe streams (100 per HTTP/2 connection) are opened and sit idle,
 * against the `ws` server holding 10,000 idle WebSockets and plain
 * `node:http2` holding 10,000 idle streams (the Node floor).
 *
 * Each repetition uses a fresh server: 100 warm-up streams first (so the
 * baseline has the code paths compiled), RSS before, then half the streams
 * (RSS mid), then the rest (RSS after). KiB per stream = (after − before) / N;
 * the marginal figure (after − mid) / (N / 2) leaves out one-time growth.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { startServerProcess } from "../lib/proc.js";
import { addRatios, median, ratioTo } from "../lib/stats.js";
import type { BenchOptions, BenchRow, Scenario, ScenarioResult } from "../lib/types.js";
import { startLoadChild } from "../load/fanout-child.js";

interface Impl {
  readonly impl: string;
  readonly client: "grpc" | "ws";
  readonly script: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

interface Case {
  readonly label: string;
  readonly rooms: number;
}

const reference = "ws";
const rawH2 = "raw node:http2";
const streamsPerConnection = 100;
const warmStreams = 100;

const impls: readonly Impl[] = [
  {
    impl: "switchboard gRPC Subscribe (memory)",
    client: "grpc",
    script: "bench/servers/switchboard.ts",
    args: ["--backend", "memory"],
    // All streams belong to the one bench user: the default limit is 100 per user.
    env: { SWITCHBOARD_MAX_STREAMS_PER_USER: "20000" },
  },
  { impl: rawH2, client: "grpc", script: "bench/servers/raw-h2-idle.ts", args: [], env: {} },
  { impl: reference, client: "ws", script: "bench/servers/ws-fanout.ts", args: [], env: {} },
];

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/** One fresh server: warm-up streams, then N idle streams in two halves; RSS at each step. */
async function measure(
  opts: BenchOptions,
  impl: Impl,
  c: Case,
  streams: number,
): Promise<Record<string, number>> {
  const settleMs = opts.quick ? 150 : 1_500;
  // The load process starts (tsx) while the server does; it gets the port with its first command.
  // Its first warmStreams subscribers are the warm-up, the next `streams` are measured.
  const child = startLoadChild(
    "idle-streams",
    "bench/load/fanout-subscribers.ts",
    {
      impl: impl.client,
      host: "127.0.0.1",
      room: "idle",
      rooms: c.rooms,
      subscribers: warmStreams + streams,
      connections: Math.ceil((warmStreams + streams) / streamsPerConnection),
      sampleEvery: 0,
    },
    opts.loadCpu,
  );
  const server = await startServerProcess({
    name: `idle-${impl.client === "ws" ? "ws" : impl.args.length > 0 ? "switchboard" : "raw-h2"}`,
    script: impl.script,
    args: impl.args,
    env: impl.env,
    cpu: opts.serverCpu,
  }).catch(async (e: unknown) => {
    await child.stop();
    throw e;
  });
  try {
    const target = {
      port: server.port,
      ...(typeof server.info.token === "string" ? { token: server.info.token } : {}),
    };
    await child.request("open", { ...target, count: warmStreams }, 60_000);
    await sleep(settleMs);
    const before = server.sample().rssKiB;
    const half = Math.floor(streams / 2);
    const first = await child.request<{ ms: number }>("open", { count: half }, 300_000);
    await sleep(settleMs);
    const mid = server.sample().rssKiB;
    const second = await child.request<{ ms: number; firstEvents: number }>("open", {}, 300_000);
    await sleep(settleMs);
    const after = server.sample().rssKiB;
    if (second.firstEvents !== warmStreams + streams) {
      throw new Error(
        `${impl.impl}: ${second.firstEvents} of ${warmStreams + streams} streams got a first event`,
      );
    }
    return {
      kibPerStream: (after - before) / streams,
      marginalKibPerStream: (after - mid) / (streams - half),
      rssBeforeMiB: before / 1024,
      rssAfterMiB: after / 1024,
      opensPerSec: streams / ((first.ms + second.ms) / 1000),
    };
  } finally {
    await child.stop();
    await server.stop();
  }
}

async function run(opts: BenchOptions): Promise<ScenarioResult> {
  // Hand runs: BENCH_IDLE_STREAMS=N, BENCH_IDLE_IMPLS=switchboard,ws (substrings of the impl names).
  const streams = Number(process.env.BENCH_IDLE_STREAMS ?? (opts.quick ? 500 : 10_000));
  const filter = process.env.BENCH_IDLE_IMPLS?.split(",").map((f) => f.trim());
  const cases: Case[] = [
    // The warm-up streams have rooms of their own too.
    { label: `${streams} streams, 1 room each`, rooms: warmStreams + streams },
    ...(opts.quick ? [] : [{ label: `${streams} streams, 100 per room`, rooms: streams / 100 }]),
  ];
  const rows: BenchRow[] = [];
  for (const c of cases) {
    for (const impl of impls) {
      if (filter && !filter.some((f) => f !== "" && impl.impl.includes(f))) continue;
      const reps: Record<string, number>[] = [];
      for (let r = 0; r < opts.repeats; r++) reps.push(await measure(opts, impl, c, streams));
      const metric = (name: string, digits = 2) => round(median(reps.map((m) => m[name]!)), digits);
      const metrics = {
        kibPerStream: metric("kibPerStream"),
        marginalKibPerStream: metric("marginalKibPerStream"),
        rssBeforeMiB: metric("rssBeforeMiB", 1),
        rssAfterMiB: metric("rssAfterMiB", 1),
        opensPerSec: metric("opensPerSec", 0),
      };
      opts.log(
        `  ${impl.impl}, ${c.label}: ${metrics.kibPerStream} KiB/stream ` +
          `(marginal ${metrics.marginalKibPerStream}), RSS ${metrics.rssBeforeMiB} → ${metrics.rssAfterMiB} MiB`,
      );
      rows.push({
        case: c.label,
        impl: impl.impl,
        metrics,
        samples: reps.map((m) => m.kibPerStream!),
        verified: `${streams} of ${streams} streams received their first event (room state)`,
      });
    }
  }
  const withRatios = addRatios(rows, { reference, metric: "kibPerStream", lowerIsBetter: true });
  const vsRaw = withRatios
    .filter((row) => row.impl !== rawH2 && row.impl !== reference)
    .map((row) => {
      const ratio = ratioTo(withRatios, row, rawH2, "kibPerStream");
      return `${row.case}: ${row.impl} uses ${ratio === undefined ? "?" : ratio.toFixed(1)}× the raw node:http2 memory per stream`;
    });
  return {
    id: "idle",
    title: "Memory per idle stream",
    columns: [
      { metric: "kibPerStream", label: "KiB per stream", digits: 2 },
      { metric: "marginalKibPerStream", label: "Marginal KiB per stream", digits: 2 },
      { metric: "rssBeforeMiB", label: "RSS before MiB", digits: 1 },
      { metric: "rssAfterMiB", label: "RSS after MiB", digits: 1 },
      { metric: "opensPerSec", label: "Opens/s", digits: 0 },
    ],
    rows: withRatios,
    notes: [
      `${streams} idle streams per server: Switchboard Subscribe (gRPC h2c, memory backend) and ` +
        `plain node:http2 (bench/servers/raw-h2-idle.ts) over ${streams / streamsPerConnection} ` +
        `HTTP/2 connections (${streamsPerConnection} streams each, Switchboard's default ` +
        `SWITCHBOARD_MAX_STREAMS_PER_CONNECTION); the ws server (bench/servers/ws-fanout.ts) with ` +
        `one WebSocket per stream. Each stream counts once its first event (room state) arrived.`,
      "Switchboard runs with SWITCHBOARD_MAX_STREAMS_PER_USER=20000: every stream belongs to the " +
        "one bench user, and the default (100 concurrent streams per user) would refuse the rest. " +
        "Other limits are the defaults (heartbeat every 15 s on idle streams).",
      `KiB per stream = (RSS after − RSS before) / ${streams}, from /proc/<pid>/status VmRSS, ` +
        `with ${warmStreams} warm-up streams open before the baseline; it includes the HTTP/2 ` +
        "connections (or sockets) the streams need; the warm-up streams share the rooms and " +
        "connections of the measured ones. Marginal = growth over the second half only. " +
        "No GC is forced (the servers expose nothing extra), so garbage not yet collected counts; " +
        `median of ${opts.repeats} fresh server${opts.repeats === 1 ? "" : "s"}.`,
      ...vsRaw,
    ],
    charts: [
      {
        file: "idle-kib-per-stream",
        title: "Memory per idle stream",
        metric: "kibPerStream",
        unit: "KiB",
      },
    ],
  };
}

export default {
  id: "idle",
  title: "Memory per idle stream",
  run,
} satisfies Scenario;
