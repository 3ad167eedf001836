/**
 * The delivery-latency probe of the cluster benchmark (run pinned to the
 * load CPU by bench/scenarios/cluster.ts through fanout-child.ts): one
 * subscriber and one sender, each on its own HTTP/2 connection to the same
 * entry point (a node or HAProxy), and the time from calling Send to the
 * subscriber receiving the message, measured in this one process.
 *
 * Command (see fanout-commands.ts for the protocol):
 * `measure {baseUrl, token, room, count, intervalMs}` → `{sent, received,
 * p50Ms, p99Ms}`: subscribes to `room` live, then sends `count` messages,
 * one every `intervalMs` without waiting for the previous one.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ChatService } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { percentile } from "../lib/stats.js";
import { serveCommands } from "./fanout-commands.js";

/** How long to wait for the subscription to start and for the last deliveries. */
const waitMs = 15_000;

function chatClient(baseUrl: string) {
  const sessionManager = new Http2SessionManager(baseUrl);
  const transport = createGrpcTransport({ baseUrl, sessionManager });
  return { client: createClient(ChatService, transport), close: () => sessionManager.abort() };
}

function deadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${waitMs} ms`)), waitMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function measure(args: Readonly<Record<string, unknown>>) {
  const baseUrl = String(args.baseUrl);
  const room = String(args.room);
  const count = Number(args.count);
  const intervalMs = Number(args.intervalMs);
  const headers = { authorization: `Bearer ${String(args.token)}` };
  const run = randomBytes(4).toString("hex");
  const subscriber = chatClient(baseUrl);
  const sender = chatClient(baseUrl);
  const abort = new AbortController();
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let subscribed = false;
  let onReady: () => void = () => {};
  let onAll: () => void = () => {};
  const ready = new Promise<void>((r) => {
    onReady = r;
  });
  const all = new Promise<void>((r) => {
    onAll = r;
  });
  const reading = (async () => {
    const events = subscriber.client.subscribe(
      { rooms: [{ room }] },
      { headers, signal: abort.signal },
    );
    for await (const res of events) {
      if (res.event.case === "roomState") {
        subscribed = true;
        onReady();
      }
      if (res.event.case !== "message") continue;
      const started = sentAt.get(res.event.value.text);
      if (started === undefined) continue;
      latencies.push(performance.now() - started);
      if (latencies.length === count) onAll();
    }
  })().catch((e: unknown) => {
    if (!abort.signal.aborted) throw e;
  });
  try {
    await deadline(Promise.race([ready, reading]), "subscription start");
    if (!subscribed) throw new Error("the subscription ended before it started");
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const text = `${run}-${i}`;
      sentAt.set(text, performance.now());
      sends.push(sender.client.send({ room, text }, { headers }));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    await Promise.all(sends);
    await deadline(Promise.race([all, reading]), `delivery of ${count} messages`).catch(() => {});
  } finally {
    abort.abort();
    await reading.catch(() => {});
    subscriber.close();
    sender.close();
  }
  return {
    sent: count,
    received: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

serveCommands({ measure });
