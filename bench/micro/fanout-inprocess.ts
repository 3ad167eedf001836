/**
 * Micro benchmark of the service-side fan-out: N Subscribe calls on one room
 * (the handlers called directly, memory backend, no transport) and M
 * messages appended one burst at a time; each burst is waited for until every
 * subscriber received it. Prints deliveries/s and the send→receive latency
 * (append → the handler's generator yielding the event).
 *
 * `--encode each` serializes every delivered event (what a transport without
 * a cache does), `--encode shared` serializes each distinct `Message` object
 * once (a cache keyed by identity, what the lean transport does), `none`
 * skips serialization.
 *
 * Run: `node --import tsx bench/micro/fanout-inprocess.ts [--subscribers 1000]
 * [--messages 300] [--burst 1] [--telemetry] [--encode none|each|shared] [--text 64]`;
 * profile with `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx …`.
 *
 * @module
 */
import { toBinary } from "@bufbuild/protobuf";
import type { Message, SubscribeResponse } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  MessageSchema,
  SubscribeResponseSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { percentile } from "../lib/stats.js";
import { createFanoutHarness, flags, turn } from "./fanout-harness.js";

const opts = flags({
  subscribers: 1000,
  messages: 300,
  burst: 1,
  warmup: 50,
  telemetry: false,
  encode: "none",
  text: 64,
});
if (!["none", "each", "shared"].includes(opts.encode)) {
  throw new Error(`--encode: none, each or shared, got "${opts.encode}"`);
}

const h = createFanoutHarness({ telemetry: opts.telemetry });
const room = "bench";
const sender = { id: "bench", name: "Bench" };
const text = "x".repeat(opts.text);
const sentAt = new Map<bigint, number>();
const encoded = new WeakMap<Message, Uint8Array>();
let received = 0;
let encodedBytes = 0;
let latencies: number[] = [];
let measuring = false;

const onEvent = (event: SubscribeResponse) => {
  if (event.event.case !== "message") return;
  const message = event.event.value;
  if (opts.encode === "each") {
    encodedBytes += toBinary(SubscribeResponseSchema, event).length;
  } else if (opts.encode === "shared") {
    let bytes = encoded.get(message);
    if (bytes === undefined) {
      bytes = toBinary(MessageSchema, message);
      encoded.set(message, bytes);
    }
    encodedBytes += bytes.length;
  }
  received++;
  if (measuring) latencies.push(performance.now() - sentAt.get(message.offset)!);
};

const subs = Array.from({ length: opts.subscribers }, () => h.subscribe(room, onEvent));
// Let every call open its feed and go live.
while (h.backend.fanout.activeSubscriptions < opts.subscribers) await turn();
for (let i = 0; i < 20; i++) await turn();

async function publish(count: number): Promise<number> {
  const start = performance.now();
  for (let done = 0; done < count; done += opts.burst) {
    const burst = Math.min(opts.burst, count - done);
    const target = received + burst * opts.subscribers;
    for (let i = 0; i < burst; i++) {
      const { message } = await h.backend.log.append({
        room,
        sender,
        text,
        attachments: [],
        clientMessageId: "",
      });
      sentAt.set(message.offset, performance.now());
    }
    while (received < target) await turn();
  }
  return performance.now() - start;
}

await publish(opts.warmup);
latencies = [];
measuring = true;
const before = received;
const cpuBefore = process.cpuUsage();
const ms = await publish(opts.messages);
const cpu = process.cpuUsage(cpuBefore);
const deliveries = received - before;
for (const sub of subs) sub.abort();
await Promise.all(subs.map((s) => s.done));
await h.close();

const round = (n: number) => Math.round(n * 100) / 100;
console.log(
  JSON.stringify({
    subscribers: opts.subscribers,
    messages: opts.messages,
    burst: opts.burst,
    telemetry: opts.telemetry,
    encode: opts.encode,
    deliveries,
    elapsedMs: Math.round(ms),
    deliveriesPerSec: Math.round((deliveries / ms) * 1000),
    cpuDeliveriesPerSec: Math.round((deliveries / ((cpu.user + cpu.system) / 1000)) * 1000),
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
    ...(opts.encode === "none" ? {} : { encodedBytes }),
  }),
);
