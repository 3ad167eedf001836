/**
 * Scenario 1, unary: the smallest gRPC call (Echo of an 11-byte payload)
 * through Switchboard's server stack, against the same call served by
 * @grpc/grpc-js (the reference) and a raw node:http2 handler (the Node
 * limit), plus Switchboard's `ChatService/Send` on the durable sqlite
 * backend. Loaded with h2load over h2c at several concurrencies.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  Direction,
  HistoryRequestSchema,
  HistoryResponseSchema,
  SendRequestSchema,
  SendResponseSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { EchoRequestSchema, EchoResponseSchema } from "../gen/switchboard/bench/v1/bench_pb.js";
import { grpcJsEcho } from "../lib/grpc-js-echo-client.js";
import { grpcFrame, type H2loadLoad, measureH2load } from "../lib/h2load.js";
import { type ServerProcess, startServerProcess } from "../lib/proc.js";
import { okGrpcMessage, replay } from "../lib/replay.js";
import { addRatios, ratioTo } from "../lib/stats.js";
import type { BenchOptions, BenchRow, Scenario, ScenarioResult } from "../lib/types.js";

const payload = Buffer.from("hello world"); // 11 bytes
const sendRoom = "bench-unary";

const title = "Unary: trivial RPC and durable Send";
const reference = "grpc-js";
const rawH2 = "raw node:http2";

/** One server under test and how to load and check it. */
interface Impl {
  readonly impl: string;
  /** The server process it runs on (see {@link servers}). */
  readonly server: keyof typeof servers;
  readonly path: string;
  readonly body: Uint8Array;
  /** Checks one replayed call and an independent client's call; returns what was checked. */
  check(server: ServerProcess, load: H2loadLoad): Promise<string>;
  /** After the load: checks what the load did (Send: messages stored); returns what was checked. */
  after?(load: H2loadLoad, succeeded: number): Promise<string>;
}

/**
 * Server processes. One Switchboard process (sqlite backend, EchoService
 * mounted) serves both Switchboard rows: Echo does not touch the backend.
 */
const servers = {
  "grpc-js": { script: "bench/servers/grpc-js-echo.ts", args: [] },
  "raw-h2": { script: "bench/servers/raw-h2-echo.ts", args: [] },
  switchboard: { script: "bench/servers/switchboard.ts", args: ["--backend", "sqlite", "--echo"] },
} as const;

const echoBody = grpcFrame(toBinary(EchoRequestSchema, create(EchoRequestSchema, { payload })));

async function checkEcho(server: ServerProcess, load: H2loadLoad): Promise<string> {
  const replayed = fromBinary(EchoResponseSchema, okGrpcMessage(await replay(load)));
  if (!payload.equals(replayed.payload)) throw new Error("replayed Echo returned another payload");
  const token = typeof server.info.token === "string" ? server.info.token : undefined;
  const echoed = await grpcJsEcho(server.port, payload, token);
  if (!payload.equals(echoed)) throw new Error("grpc-js Echo returned another payload");
  return "h2load's request replayed: grpc-status 0, payload echoed; grpc-js client Echo: ok";
}

const impls: readonly Impl[] = [
  {
    impl: reference,
    server: "grpc-js",
    path: "/switchboard.bench.v1.EchoService/Echo",
    body: echoBody,
    check: checkEcho,
  },
  {
    impl: rawH2,
    server: "raw-h2",
    path: "/switchboard.bench.v1.EchoService/Echo",
    body: echoBody,
    check: checkEcho,
  },
  {
    impl: "switchboard gRPC h2c",
    server: "switchboard",
    path: "/switchboard.bench.v1.EchoService/Echo",
    body: echoBody,
    check: checkEcho,
  },
  {
    impl: "switchboard Send (sqlite)",
    server: "switchboard",
    path: "/switchboard.chat.v1.ChatService/Send",
    // No client_message_id: every request stores a new message (no idempotent dedupe).
    body: grpcFrame(
      toBinary(
        SendRequestSchema,
        create(SendRequestSchema, { room: sendRoom, text: "hello world" }),
      ),
    ),
    async check(_server, load) {
      const res = fromBinary(SendResponseSchema, okGrpcMessage(await replay(load)));
      if (res.message?.text !== "hello world" || res.duplicate) {
        throw new Error("replayed Send did not store the message");
      }
      return "h2load's request replayed: grpc-status 0, message stored";
    },
    async after(load, succeeded) {
      const history = await replay({
        ...load,
        url: load.url.replace(/\/Send$/, "/History"),
        body: grpcFrame(
          toBinary(
            HistoryRequestSchema,
            create(HistoryRequestSchema, {
              room: sendRoom,
              direction: Direction.BACKWARD,
              limit: 1,
            }),
          ),
        ),
      });
      const page = fromBinary(HistoryResponseSchema, okGrpcMessage(history));
      const stored = Number(page.headOffset);
      if (stored < succeeded) {
        throw new Error(`only ${stored} messages stored for ${succeeded} successful Sends`);
      }
      return `; History: ${stored} messages stored ≥ ${succeeded} succeeded in the measured runs (warm-up and checks store more)`;
    },
  },
];

/** h2load concurrency: connections × streams per connection. */
interface Load {
  readonly clients: number;
  readonly streams: number;
}

function loads(quick: boolean): readonly Load[] {
  return quick
    ? [{ clients: 8, streams: 16 }]
    : [
        { clients: 1, streams: 1 },
        { clients: 8, streams: 16 },
        { clients: 32, streams: 32 },
      ];
}

/** Loads one implementation on its (running) server and checks it. */
async function measureImpl(
  opts: BenchOptions,
  impl: Impl,
  server: ServerProcess,
): Promise<BenchRow[]> {
  const token = typeof server.info.token === "string" ? server.info.token : undefined;
  const base: H2loadLoad = {
    url: `http://127.0.0.1:${server.port}${impl.path}`,
    clients: 1,
    streams: 1,
    headers: {
      "content-type": "application/grpc",
      te: "trailers",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: impl.body,
  };
  let verified = await impl.check(server, base);
  const rows: BenchRow[] = [];
  let succeeded = 0;
  for (const { clients, streams } of loads(opts.quick)) {
    const load = { ...base, clients, streams };
    const m = await measureH2load(opts, load, server);
    succeeded += m.metrics.succeeded ?? 0;
    opts.log(
      `  ${impl.impl}, c${clients} m${streams}: ${Math.round(m.metrics.rps!)} req/s, ` +
        `p50 ${m.metrics.p50Ms!.toFixed(2)} ms, p99 ${m.metrics.p99Ms!.toFixed(2)} ms, ` +
        `failed ${m.metrics.failed}`,
    );
    rows.push({
      case: `c${clients} m${streams}`,
      impl: impl.impl,
      metrics: m.metrics,
      samples: m.samples,
      verified,
    });
  }
  if (impl.after) verified += await impl.after(base, succeeded);
  return rows.map((r) => ({ ...r, verified }));
}

async function run(opts: BenchOptions): Promise<ScenarioResult> {
  const measured: BenchRow[] = [];
  for (const [name, { script, args }] of Object.entries(servers)) {
    const server = await startServerProcess({ name, script, args, cpu: opts.serverCpu });
    try {
      for (const impl of impls.filter((i) => i.server === name)) {
        measured.push(...(await measureImpl(opts, impl, server)));
      }
    } finally {
      await server.stop();
    }
  }
  const withRatios = addRatios(measured, { reference, metric: "rps" }).map((row) => {
    const vsRaw = ratioTo(measured, row, rawH2, "rps");
    return vsRaw === undefined ? row : { ...row, metrics: { ...row.metrics, vsRawH2: vsRaw } };
  });
  // Group the table by case (c1 m1: every impl, then c8 m16, ...).
  const cases = [...new Set(withRatios.map((r) => r.case))];
  const rows = cases.flatMap((c) => withRatios.filter((r) => r.case === c));
  return {
    id: "unary",
    title,
    columns: [
      { metric: "rps", label: "req/s", digits: 0 },
      { metric: "p50Ms", label: "p50 ms", digits: 2 },
      { metric: "p99Ms", label: "p99 ms", digits: 2 },
      { metric: "serverCpuPct", label: "server CPU %", digits: 0 },
      { metric: "failed", label: "failed", digits: 0 },
      { metric: "vsRawH2", label: "× raw h2", digits: 2 },
    ],
    rows,
    notes: [
      "Echo of an 11-byte payload (`bytes payload`, an 18-byte gRPC request body) over h2c; `c` = h2load connections, `m` = concurrent streams per connection.",
      "grpc-js: @grpc/grpc-js 1.x server with @grpc/proto-loader, the same bench.proto. raw node:http2: a `stream` handler that answers with the request body and `grpc-status: 0` trailers without decoding — the ceiling for any Node gRPC server.",
      "switchboard gRPC h2c: the real server stack (listener, request handler, interceptors, JWT auth gate verifying a bearer token on every call, metrics) with EchoService mounted next to ChatService. One Switchboard process (sqlite backend) serves both Switchboard rows, Echo first. The references do no authentication.",
      "switchboard Send (sqlite): ChatService/Send of an 11-character text, no client_message_id (so nothing is deduplicated), answered after the message is durable in sqlite; send rate limit off (10^9/s).",
      "Ratio: req/s divided by grpc-js's in the same case; × raw h2: divided by the raw node:http2 handler's.",
      "Correctness is checked outside the load: h2load's exact request is replayed once and its grpc-status and decoded response checked, plus a grpc-js client call; for Send, History's head offset is compared with h2load's successes. h2load itself only sees HTTP 200.",
      "server CPU %: CPU time of the server process during the measured runs, in % of one core (100 = the pinned core was saturated).",
    ],
    charts: [
      {
        file: "unary-rps",
        title: "Unary requests per second (higher is better)",
        metric: "rps",
        unit: "req/s",
      },
      {
        file: "unary-p99",
        title: "Unary p99 latency (lower is better)",
        metric: "p99Ms",
        unit: "ms",
      },
    ],
  };
}

export default { id: "unary", title, run } satisfies Scenario;
