/**
 * Load process: one publisher sending to one room at a set rate. Switchboard:
 * unary Send over one h2c connection (fanout-h2-wire.ts); `ws`: a text
 * message `{"room","text"}` over one WebSocket, acknowledged by the server.
 * The text is process.hrtime in nanoseconds at send time, read back by the
 * subscribers for the latency.
 *
 * At most `maxInFlight` sends are unanswered; a send that is due while that
 * many are pending is skipped (counted), so a saturated server sees the
 * offered rate, not an ever-growing backlog.
 *
 * Commands (fanout-commands.ts): `start {rate, port?, token?}` (connects on
 * the first start; `port` and `token` override the configuration, so the
 * process can be started before the server is ready), `stop` (returns counts).
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  SendRequestSchema,
  SendResponseSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { readConfig, serveCommands } from "./fanout-commands.js";
import { connectWire, grpcEnvelope, type WireConnection } from "./fanout-h2-wire.js";
import { connectWsWire, type WsWire } from "./fanout-ws-wire.js";

/** Configuration (argv[2] as JSON). */
export interface PublisherConfig {
  readonly impl: "grpc" | "ws";
  readonly host: string;
  /** Server port; may instead be given with the first `start`. */
  readonly port?: number;
  /** Bearer token (gRPC); may instead be given with the first `start`. */
  readonly token?: string;
  readonly room: string;
  readonly maxInFlight: number;
}

const sendPath = "/switchboard.chat.v1.ChatService/Send";
const config = readConfig<PublisherConfig>();
const target = { port: config.port ?? 0, token: config.token ?? "" };

let sent = 0;
let acked = 0;
let failed = 0;
let skipped = 0;
let inFlight = 0;
let verified = "";
let timer: NodeJS.Timeout | undefined;
let grpc: WireConnection | undefined;
let ws: WsWire | undefined;

function sendOne(): void {
  const text = String(process.hrtime.bigint());
  sent++;
  inFlight++;
  if (ws !== undefined) {
    ws.send(JSON.stringify({ room: config.room, text }));
    return;
  }
  const body = grpcEnvelope(
    toBinary(SendRequestSchema, create(SendRequestSchema, { room: config.room, text })),
  );
  let answered = false;
  grpc!.call(sendPath, body, {
    wantBody: () => verified === "",
    onMessage(_index, data) {
      answered = true;
      if (data !== undefined) {
        const stored = fromBinary(SendResponseSchema, data).message;
        verified = `Send answered message offset ${stored?.offset} in room ${stored?.room}`;
      }
    },
    onClose() {
      inFlight--;
      if (answered) acked++;
      else failed++;
    },
  });
}

async function connect(): Promise<void> {
  if (config.impl === "grpc") {
    grpc = await connectWire({
      host: config.host,
      port: target.port,
      headers: { authorization: `Bearer ${target.token}` },
    });
    return;
  }
  ws = await connectWsWire(
    { host: config.host, port: target.port, path: `/?publish=${encodeURIComponent(config.room)}` },
    {
      wantBody: () => verified === "",
      onMessage(_index, data) {
        inFlight--;
        acked++;
        if (data !== undefined) verified = `ws server acknowledged: ${data.toString()}`;
      },
      onClose() {
        failed += inFlight;
        inFlight = 0;
      },
    },
  );
}

serveCommands({
  async start(args) {
    if (timer !== undefined) throw new Error("already publishing");
    if (typeof args.port === "number") target.port = args.port;
    if (typeof args.token === "string") target.token = args.token;
    if (grpc === undefined && ws === undefined) await connect();
    const rate = Number(args.rate);
    const t0 = process.hrtime.bigint();
    let issued = 0;
    sent = acked = failed = skipped = 0;
    timer = setInterval(() => {
      const due = Math.floor((rate * Number(process.hrtime.bigint() - t0)) / 1e9);
      while (issued < due) {
        issued++;
        if (inFlight >= config.maxInFlight) skipped++;
        else sendOne();
      }
    }, 1);
    return {};
  },
  async stop() {
    clearInterval(timer);
    timer = undefined;
    const started = performance.now();
    while (inFlight > 0 && performance.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return { sent, acked, failed, skipped, unanswered: inFlight, verified };
  },
});
