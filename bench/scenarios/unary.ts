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
import { grpcFrame, type H2loadLoad, measureInterleaved } from "../lib/h2load.js";
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
  readonly server: string;
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
const servers: Record<
  string,
  { script: string; args: readonly string[]; env?: Record<string, string> }
> = {
  "grpc-js": { script: "bench/servers/grpc-js-echo.ts", args: [] },
  "raw-h2": { script: "bench/servers/raw-h2-echo.ts", args: [] },
  switchboard: { script: "bench/servers/switchboard.ts", args: ["--backend", "sqlite", "--echo"] },
  // The "before" figures: the same server with connect-node serving every call.
  "switchboard-library": {
    script: "bench/servers/switchboard.ts",
    args: ["--backend", "memory", "--echo"],
    env: { SWITCHBOARD_FAST_PATH: "0" },
  },
};

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
    impl: "switchboard gRPC h2c, no fast path (before)",
    server: "switchboard-library",
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

/** The h2load request of one implementation on its server. */
function baseLoad(impl: Impl, server: ServerProcess): H2loadLoad {
  const token = typeof server.info.token === "string" ? server.info.token : undefined;
  return {
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
}

/**
 * Every server runs at once (all pinned to the server CPU, idle unless
 * loaded); for each concurrency the implementations' repetitions are
 * interleaved (measureInterleaved), so drift in the machine's speed hits
 * them alike.
 */
async function run(opts: BenchOptions): Promise<ScenarioResult> {
  const running = new Map<string, ServerProcess>();
  const measured: BenchRow[] = [];
  try {
    for (const [name, { script, args, env }] of Object.entries(servers)) {
      running.set(
        name,
        await startServerProcess({
          name,
          script,
          args,
          cpu: opts.serverCpu,
          ...(env ? { env } : {}),
        }),
      );
    }
    const verified = new Map<string, string>();
    for (const impl of impls) {
      const server = running.get(impl.server)!;
      verified.set(impl.impl, await impl.check(server, baseLoad(impl, server)));
    }
    const succeeded = new Map<string, number>();
    for (const { clients, streams } of loads(opts.quick)) {
      const entries = impls.map((impl) => {
        const server = running.get(impl.server)!;
        return { load: { ...baseLoad(impl, server), clients, streams }, server };
      });
      const results = await measureInterleaved(opts, entries);
      for (const [k, impl] of impls.entries()) {
        const m = results[k]!;
        succeeded.set(impl.impl, (succeeded.get(impl.impl) ?? 0) + (m.metrics.succeeded ?? 0));
        opts.log(
          `  ${impl.impl}, c${clients} m${streams}: ${Math.round(m.metrics.rps!)} req/s, ` +
            `p50 ${m.metrics.p50Ms!.toFixed(2)} ms, p99 ${m.metrics.p99Ms!.toFixed(2)} ms, ` +
            `failed ${m.metrics.failed}`,
        );
        measured.push({
          case: `c${clients} m${streams}`,
          impl: impl.impl,
          metrics: m.metrics,
          samples: m.samples,
        });
      }
    }
    for (const impl of impls) {
      if (!impl.after) continue;
      const server = running.get(impl.server)!;
      const extra = await impl.after(baseLoad(impl, server), succeeded.get(impl.impl) ?? 0);
      verified.set(impl.impl, `${verified.get(impl.impl)}${extra}`);
    }
    for (const [i, row] of measured.entries()) {
      measured[i] = { ...row, verified: verified.get(row.impl) ?? "" };
    }
  } finally {
    for (const server of running.values()) await server.stop();
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
      "switchboard gRPC h2c, no fast path (before): the same stack with the fast path off (`SWITCHBOARD_FAST_PATH=0`, docs/fast-path.md), i.e. connect-node's adapter serving every call — the figure before issue 8.",
      "switchboard Send (sqlite): ChatService/Send of an 11-character text, no client_message_id (so nothing is deduplicated), answered after the message is durable in sqlite; send rate limit off (10^9/s).",
      "Ratio: req/s divided by grpc-js's in the same case; × raw h2: divided by the raw node:http2 handler's.",
      "All servers run at once, pinned to the server CPU; for each concurrency the implementations' repetitions are interleaved (A B C …, A B C …), so drift in the machine's speed affects them alike.",
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
