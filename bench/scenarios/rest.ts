/**
 * Scenario 2, REST vs gRPC vs Connect: the same operation (echo a list of
 * structured items) as a Fastify JSON route over HTTP/1.1 (the reference),
 * Switchboard's Connect JSON and Connect proto over HTTP/1.1, Switchboard's
 * gRPC over h2c, and @grpc/grpc-js over h2c for context; small, 1 KiB and
 * 100 KiB payloads. Tests the claim "gRPC is 7-10x faster than REST".
 *
 * @module
 */

import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  EchoItemsRequestSchema,
  EchoItemsResponseSchema,
  type ItemSchema,
} from "../gen/switchboard/bench/v1/bench_pb.js";
import { grpcFrame, type H2loadLoad, measureH2load } from "../lib/h2load.js";
import { type ServerProcess, startServerProcess } from "../lib/proc.js";
import { okGrpcMessage, type ReplayResponse, replay } from "../lib/replay.js";
import { addRatios } from "../lib/stats.js";
import type { BenchOptions, BenchRow, Scenario, ScenarioResult } from "../lib/types.js";

const title = "REST vs gRPC vs Connect: structured payloads";
const reference = "Fastify JSON (HTTP/1.1)";

/** In-flight requests for every implementation. */
const inFlight = 16;

type ItemInit = MessageInitShape<typeof ItemSchema>;

/** One payload size: the items, and their JSON and protobuf encodings. */
interface Payload {
  readonly label: string;
  readonly items: ItemInit[];
  readonly json: Buffer;
  readonly proto: Uint8Array;
}

const words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];

/** Item `i`: every field set to a non-default value, so JSON and proto carry the same data. */
function item(i: number): ItemInit {
  return {
    id: 1000 + i,
    name: `item-${i} ${words[i % words.length]}`,
    tags: [words[i % words.length]!, words[(i * 3 + 1) % words.length]!],
    score: ((i * 37) % 1000) / 8 + 0.125,
    createdAt: new Date(Date.UTC(2024, 0, 1) + i * 61_000).toISOString(),
    active: true,
  };
}

/** The fewest items whose JSON body (`{"items":[...]}`) is at least `bytes` long. */
function payload(label: string, bytes: number): Payload {
  const items: ItemInit[] = [];
  let json = "";
  do {
    items.push(item(items.length));
    json = JSON.stringify({ items });
  } while (Buffer.byteLength(json) < bytes);
  const proto = toBinary(EchoItemsRequestSchema, create(EchoItemsRequestSchema, { items }));
  return { label, items, json: Buffer.from(json), proto };
}

function payloads(quick: boolean): Payload[] {
  const all = [payload("small", 100), payload("1 KiB", 1024), payload("100 KiB", 100 * 1024)];
  return quick ? all.filter((p) => p.label === "1 KiB") : all;
}

/** One implementation: which server, and the request h2load sends for a payload. */
interface Impl {
  readonly impl: string;
  readonly server: "fastify" | "switchboard" | "grpc-js";
  load(port: number, token: string | undefined, p: Payload): H2loadLoad;
  /** Throws unless the response echoes the payload. */
  check(res: ReplayResponse, p: Payload): void;
}

const grpcPath = "/switchboard.bench.v1.EchoService/EchoItems";

function checkJson(res: ReplayResponse, p: Payload): void {
  if (res.status !== 200)
    throw new Error(`HTTP ${res.status}: ${res.body.toString().slice(0, 200)}`);
  const echoed = JSON.stringify(JSON.parse(res.body.toString("utf8")));
  if (echoed !== p.json.toString("utf8"))
    throw new Error("the JSON response differs from the request");
}

function checkProtoBytes(message: Uint8Array, p: Payload): void {
  const echoed = fromBinary(EchoItemsResponseSchema, message);
  const again = toBinary(
    EchoItemsRequestSchema,
    create(EchoItemsRequestSchema, { items: echoed.items }),
  );
  if (!Buffer.from(again).equals(Buffer.from(p.proto))) {
    throw new Error("the protobuf response differs from the request");
  }
}

const auth = (token: string | undefined): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {};

const grpcLoad = (port: number, token: string | undefined, p: Payload): H2loadLoad => ({
  url: `http://127.0.0.1:${port}${grpcPath}`,
  clients: 1,
  streams: inFlight,
  headers: { "content-type": "application/grpc", te: "trailers", ...auth(token) },
  body: grpcFrame(p.proto),
});

const impls: readonly Impl[] = [
  {
    impl: reference,
    server: "fastify",
    load: (port, _token, p) => ({
      url: `http://127.0.0.1:${port}/echo-items`,
      clients: inFlight,
      streams: 1,
      h1: true,
      headers: { "content-type": "application/json" },
      body: p.json,
    }),
    check: checkJson,
  },
  {
    impl: "switchboard Connect JSON (HTTP/1.1)",
    server: "switchboard",
    load: (port, token, p) => ({
      url: `http://127.0.0.1:${port}${grpcPath}`,
      clients: inFlight,
      streams: 1,
      h1: true,
      headers: {
        "content-type": "application/json",
        "connect-protocol-version": "1",
        ...auth(token),
      },
      body: p.json,
    }),
    check: checkJson,
  },
  {
    impl: "switchboard Connect proto (HTTP/1.1)",
    server: "switchboard",
    load: (port, token, p) => ({
      url: `http://127.0.0.1:${port}${grpcPath}`,
      clients: inFlight,
      streams: 1,
      h1: true,
      headers: {
        "content-type": "application/proto",
        "connect-protocol-version": "1",
        ...auth(token),
      },
      body: p.proto,
    }),
    check(res, p) {
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      checkProtoBytes(new Uint8Array(res.body), p);
    },
  },
  {
    impl: "switchboard gRPC (h2c)",
    server: "switchboard",
    load: grpcLoad,
    check: (res, p) => checkProtoBytes(okGrpcMessage(res), p),
  },
  {
    impl: "grpc-js gRPC (h2c)",
    server: "grpc-js",
    load: grpcLoad,
    check: (res, p) => checkProtoBytes(okGrpcMessage(res), p),
  },
];

const serverScripts = {
  fastify: { script: "bench/servers/fastify-echo.ts", args: [] as string[] },
  switchboard: { script: "bench/servers/switchboard.ts", args: ["--backend", "memory", "--echo"] },
  "grpc-js": { script: "bench/servers/grpc-js-echo.ts", args: [] as string[] },
} as const;

async function measureServer(
  opts: BenchOptions,
  name: Impl["server"],
  sizes: readonly Payload[],
): Promise<BenchRow[]> {
  const server: ServerProcess = await startServerProcess({
    name,
    ...serverScripts[name],
    cpu: opts.serverCpu,
  });
  try {
    const token = typeof server.info.token === "string" ? server.info.token : undefined;
    const rows: BenchRow[] = [];
    for (const impl of impls.filter((i) => i.server === name)) {
      for (const p of sizes) {
        const load = impl.load(server.port, token, p);
        impl.check(await replay(load), p);
        const m = await measureH2load(opts, load, server);
        opts.log(
          `  ${impl.impl}, ${p.label}: ${Math.round(m.metrics.rps!)} req/s, ` +
            `p50 ${m.metrics.p50Ms!.toFixed(2)} ms, p99 ${m.metrics.p99Ms!.toFixed(2)} ms, ` +
            `failed ${m.metrics.failed}`,
        );
        rows.push({
          case: p.label,
          impl: impl.impl,
          metrics: { ...m.metrics, requestBytes: load.body?.byteLength ?? 0 },
          samples: m.samples,
          verified:
            "h2load's request replayed: HTTP 200 (gRPC: grpc-status 0), response equals the request's items",
        });
      }
    }
    return rows;
  } finally {
    await server.stop();
  }
}

async function run(opts: BenchOptions): Promise<ScenarioResult> {
  const sizes = payloads(opts.quick);
  const measured: BenchRow[] = [];
  for (const name of ["fastify", "switchboard", "grpc-js"] as const) {
    measured.push(...(await measureServer(opts, name, sizes)));
  }
  const withRatios = addRatios(measured, { reference, metric: "rps" });
  const rows = sizes.flatMap((p) =>
    impls.flatMap((i) => withRatios.filter((r) => r.case === p.label && r.impl === i.impl)),
  );
  const sizeNotes = sizes.map(
    (p) =>
      `${p.label}: ${p.items.length} item${p.items.length === 1 ? "" : "s"}, ${p.json.byteLength} B as JSON, ${p.proto.byteLength} B as protobuf.`,
  );
  return {
    id: "rest",
    title,
    columns: [
      { metric: "rps", label: "req/s", digits: 0 },
      { metric: "p50Ms", label: "p50 ms", digits: 2 },
      { metric: "p99Ms", label: "p99 ms", digits: 2 },
      { metric: "requestBytes", label: "request body B", digits: 0 },
      { metric: "bytesPerRequest", label: "response B on the wire", digits: 0 },
      { metric: "serverCpuPct", label: "server CPU %", digits: 0 },
      { metric: "failed", label: "failed", digits: 0 },
    ],
    rows,
    notes: [
      "One operation everywhere: echo `{items: [...]}`, each item with id, name, tags, score, createdAt (RFC 3339 string) and active, every field non-default so JSON and protobuf carry the same data.",
      ...sizeNotes,
      `Concurrency: ${inFlight} requests in flight for every implementation, each protocol used the way its clients use it: HTTP/1.1 with ${inFlight} keep-alive connections (h2load --h1 -c${inFlight}, no pipelining); gRPC with one HTTP/2 connection and ${inFlight} concurrent streams (-c1 -m${inFlight}).`,
      "Fastify 5: `POST /echo-items` with JSON schemas for body (validated) and response (fast-json-stringify), logging off, no authentication.",
      "Switchboard: the real server stack with EchoService mounted next to ChatService; every call carries a bearer JWT that the auth gate verifies. Connect JSON and Connect proto are the same handler as gRPC, only the protocol and codec differ.",
      "grpc-js: @grpc/grpc-js with @grpc/proto-loader (protobufjs), no authentication — the usual Node gRPC server, for context.",
      "response B on the wire: bytes h2load received per request (status line or HEADERS, body, framing, trailers).",
      "Ratio: req/s divided by Fastify's for the same payload.",
    ],
    charts: [
      {
        file: "rest-rps",
        title: "Structured echo: requests per second (higher is better)",
        metric: "rps",
        unit: "req/s",
      },
      {
        file: "rest-p99",
        title: "Structured echo: p99 latency (lower is better)",
        metric: "p99Ms",
        unit: "ms",
      },
    ],
  };
}

export default { id: "rest", title, run } satisfies Scenario;
