/**
 * Load process: many subscribers of a Switchboard Subscribe stream (gRPC over
 * h2c, many streams per connection, see fanout-h2-wire.ts) or of the `ws`
 * reference server (one WebSocket each, see fanout-ws-wire.ts). Deliveries
 * are counted; one in `sampleEvery` is decoded (`fromBinary` of
 * SubscribeResponse, or `JSON.parse`) to read the publisher's timestamp
 * (process.hrtime in ns, the message text; CLOCK_MONOTONIC is shared by the
 * processes of one machine) for the send→receive latency.
 *
 * Read coalescing: after an event-loop turn that delivered something, the
 * process sleeps `coalesceUs` (default 200 µs, Atomics.wait: no CPU) before
 * polling again, so one poll returns many ready sockets instead of waking
 * once per delivery. Without it, the kernel wake-up per WebSocket frame
 * makes the load side cost as much per delivery as the `ws` server. It adds
 * at most that much to the measured latency, the same for every server.
 *
 * Commands (fanout-commands.ts): `open {count?, port?, token?}` (connect,
 * subscribe the next `count` subscribers — default all the others — and wait
 * for each one's first event; `port` and `token` override the configuration,
 * so the process can be started before the server is ready), `mark` (start a measured window), `report` (end it),
 * `quiet` (wait until nothing arrives), `close`.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { readConfig, serveCommands } from "./fanout-commands.js";
import { connectWire, grpcEnvelope, type WireConnection } from "./fanout-h2-wire.js";
import { connectWsWire, type WsWire } from "./fanout-ws-wire.js";

/** Configuration (argv[2] as JSON). */
export interface SubscribersConfig {
  /** "grpc": Subscribe over h2c; "ws": WebSocket `/?room=…`. */
  readonly impl: "grpc" | "ws";
  readonly host: string;
  /** Server port; may instead be given with the first `open`. */
  readonly port?: number;
  /** Bearer token (gRPC); may instead be given with the first `open`. */
  readonly token?: string;
  /** Room name, or with `rooms` > 1 the prefix: subscriber i follows `${room}-${i % rooms}`. */
  readonly room: string;
  readonly rooms: number;
  readonly subscribers: number;
  /**
   * h2c connections for the gRPC streams (ws: one connection per subscriber).
   * Subscribers fill them in order, ceil(subscribers / connections) each; a
   * connection is opened when its first subscriber is.
   */
  readonly connections: number;
  /** Decode one delivery in this many for latency; 0: none. */
  readonly sampleEvery: number;
  /** Sleep after a loop turn that delivered something, in µs (default 200; 0: none). */
  readonly coalesceUs?: number;
  /** Subscribes (or WebSocket handshakes) waiting for their first event at once. */
  readonly openConcurrency?: number;
}

/** Result of `report`. */
export interface SubscribersReport {
  readonly deliveries: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly samples: number;
  /** Sampled deliveries that did not decode as a message with a timestamp. */
  readonly badSamples: number;
  /** Subscriptions that ended since `open`. */
  readonly closed: number;
}

const subscribePath = "/switchboard.chat.v1.ChatService/Subscribe";
const config = readConfig<SubscribersConfig>();
const target = { port: config.port ?? 0, token: config.token ?? "" };
const roomOf = (i: number) =>
  config.rooms > 1 ? `${config.room}-${i % config.rooms}` : config.room;

let total = 0;
let windowDeliveries = 0;
let windowStart = process.hrtime.bigint();
let latencies: number[] = [];
let badSamples = 0;
let badFirstEvents = 0;
let sampleCounter = 0;
let firstEvents = 0;
let closed = 0;
let openedCount = 0;
const connections: Promise<WireConnection>[] = [];
const sockets: WsWire[] = [];

const napMs = (config.coalesceUs ?? 200) / 1000;
const napCell = new Int32Array(new SharedArrayBuffer(4));
let napping = false;
const nap = () => {
  napping = false;
  Atomics.wait(napCell, 0, 0, napMs);
};

function wantBody(index: number): boolean {
  if (index === 0) return true;
  return config.sampleEvery > 0 && ++sampleCounter % config.sampleEvery === 0;
}

function onMessage(index: number, body: Buffer | undefined, onFirst: () => void): void {
  if (index === 0) {
    if (body === undefined || !isRoomState(body)) badFirstEvents++;
    firstEvents++;
    onFirst();
    return;
  }
  total++;
  windowDeliveries++;
  if (!napping && napMs > 0) {
    napping = true;
    setImmediate(nap);
  }
  if (body !== undefined) {
    const sentNs = timestampOf(body);
    if (sentNs === undefined) badSamples++;
    else latencies.push(Number(process.hrtime.bigint() - sentNs) / 1e6);
  }
}

function isRoomState(body: Buffer): boolean {
  if (config.impl === "ws")
    return (JSON.parse(body.toString()) as { roomState?: unknown }).roomState !== undefined;
  return fromBinary(SubscribeResponseSchema, body).event.case === "roomState";
}

function timestampOf(body: Buffer): bigint | undefined {
  try {
    if (config.impl === "ws") {
      const parsed = JSON.parse(body.toString()) as { message?: { text?: string } };
      return parsed.message?.text ? BigInt(parsed.message.text) : undefined;
    }
    const event = fromBinary(SubscribeResponseSchema, body).event;
    return event.case === "message" ? BigInt(event.value.text) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `open(i)` for i in [from, to), at most `limit` unsettled at once. */
async function openRange(
  from: number,
  to: number,
  open: (i: number) => Promise<void>,
  limit: number,
): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) await open(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, to - from) }, worker));
}

const bodies = new Map<string, Buffer>();

async function openGrpc(from: number, to: number, limit: number): Promise<void> {
  const perConnection = Math.ceil(config.subscribers / Math.max(1, config.connections));
  const connectionOf = (i: number): Promise<WireConnection> => {
    const n = Math.floor(i / perConnection);
    connections[n] ??= connectWire({
      host: config.host,
      port: target.port,
      headers: { authorization: `Bearer ${target.token}` },
    }).then((connection) => {
      if (perConnection > connection.maxConcurrentStreams) {
        connection.close();
        throw new Error(
          `${perConnection} streams per connection, but the server allows ${connection.maxConcurrentStreams}`,
        );
      }
      return connection;
    });
    return connections[n];
  };
  await openRange(
    from,
    to,

    async (i) => {
      const connection = await connectionOf(i);
      await new Promise<void>((resolve, reject) => {
        const room = roomOf(i);
        let body = bodies.get(room);
        if (body === undefined) {
          body = grpcEnvelope(
            toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { rooms: [{ room }] })),
          );
          if (config.rooms <= 1000) bodies.set(room, body);
        }
        let first = false;
        connection.call(subscribePath, body, {
          wantBody,
          onMessage: (index, data) =>
            onMessage(index, data, () => {
              first = true;
              resolve();
            }),
          onClose: (how) => {
            closed++;
            if (!first)
              reject(new Error(`Subscribe ${room} ended (${how}) before its first event`));
          },
        });
      });
    },
    limit,
  );
}

async function openWs(from: number, to: number, limit: number): Promise<void> {
  await openRange(
    from,
    to,
    async (i) => {
      const room = roomOf(i);
      let resolveFirst: () => void = () => {};
      let rejectFirst: (e: Error) => void = () => {};
      const first = new Promise<void>((resolve, reject) => {
        resolveFirst = resolve;
        rejectFirst = reject;
      });
      let gotFirst = false;
      const ws = await connectWsWire(
        { host: config.host, port: target.port, path: `/?room=${encodeURIComponent(room)}` },
        {
          wantBody,
          onMessage: (index, data) =>
            onMessage(index, data, () => {
              gotFirst = true;
              resolveFirst();
            }),
          onClose: () => {
            closed++;
            if (!gotFirst)
              rejectFirst(new Error(`WebSocket ${room} closed before its first event`));
          },
        },
      );
      sockets.push(ws);
      await first;
    },
    limit,
  );
}

function percentileMs(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

serveCommands({
  async open(args) {
    if (typeof args.port === "number") target.port = args.port;
    if (typeof args.token === "string") target.token = args.token;
    const from = openedCount;
    const to = Math.min(config.subscribers, from + Number(args.count ?? config.subscribers));
    openedCount = to;
    const started = performance.now();
    const limit = config.openConcurrency ?? (config.impl === "ws" ? 200 : 500);
    if (config.impl === "ws") await openWs(from, to, limit);
    else await openGrpc(from, to, limit);
    if (badFirstEvents > 0) throw new Error(`${badFirstEvents} first events were not room states`);
    return {
      subscribers: to,
      firstEvents,
      rooms: Math.min(config.rooms, config.subscribers),
      ms: performance.now() - started,
    };
  },
  mark() {
    windowDeliveries = 0;
    latencies = [];
    badSamples = 0;
    windowStart = process.hrtime.bigint();
    return {};
  },
  report(): SubscribersReport {
    const seconds = Number(process.hrtime.bigint() - windowStart) / 1e9;
    const sorted = Float64Array.from(latencies).sort();
    return {
      deliveries: windowDeliveries,
      seconds,
      p50Ms: percentileMs(sorted, 50),
      p99Ms: percentileMs(sorted, 99),
      maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
      samples: sorted.length,
      badSamples,
      closed,
    };
  },
  async quiet(args) {
    const idleMs = Number(args.idleMs ?? 300);
    const maxMs = Number(args.maxMs ?? 10_000);
    const started = performance.now();
    let last = total;
    let lastChange = performance.now();
    while (performance.now() - lastChange < idleMs && performance.now() - started < maxMs) {
      await new Promise((r) => setTimeout(r, 50));
      if (total !== last) {
        last = total;
        lastChange = performance.now();
      }
    }
    return { total, waitedMs: performance.now() - started };
  },
  close() {
    for (const c of connections) void c.then((connection) => connection.close());
    for (const s of sockets) s.close();
    return {};
  },
});
