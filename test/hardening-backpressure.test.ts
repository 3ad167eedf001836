/**
 * Backpressure over real sockets: a subscriber that stops reading is held by
 * HTTP/2 flow control, its bounded queue overflows, and it is ended with
 * ResourceExhausted carrying its last delivered offset — without growing the
 * server's heap and without slowing other subscribers. The SDK resumes such a
 * subscription from history without loss. Uploads and downloads follow flow
 * control: a 200 MiB file passes through with bounded server memory.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:http2";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { createSwitchboardClient, type SubscriptionEvent } from "../src/client/index.js";
import {
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { connectH2, decodeFrames, encodeFrame, rawCall } from "./helpers/raw-h2.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Live heap plus buffers after a full collection. */
function liveBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const MiB = 1024 * 1024;
const unlimitedSends = { sendRatePerSec: 1_000_000, sendBurst: 1_000_000 };

/** A server whose subscriber queues hold `maxQueueBytes`; no heartbeats, no send limit. */
function startQueueBoundServer(opts: {
  maxQueueBytes: number;
  slowConsumerGraceMs: number;
  backend?: "sqlite" | "memory";
}): Promise<TestServer> {
  return startTestServer({
    ...(opts.backend ? { backend: opts.backend } : {}),
    limits: {
      maxQueueBytes: opts.maxQueueBytes,
      slowConsumerGraceMs: opts.slowConsumerGraceMs,
      heartbeatIntervalMs: 60_000,
      ...unlimitedSends,
    },
  });
}

describe("backpressure: a subscriber that stops reading", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startQueueBoundServer({
      maxQueueBytes: 256 * 1024,
      slowConsumerGraceMs: 120_000,
      backend: "sqlite",
    });
  });
  after(() => ts?.close());

  it("is ended with ResourceExhausted and its last delivered offset, without growing the server heap or slowing others", async () => {
    const room = "bp-stall";
    const token = await ts.token({ subject: "bp", rooms: ["*"] });
    const sb = createSwitchboardClient({ baseUrl: ts.url, token });
    const fast: bigint[] = [];
    const fastTimes: number[] = [];
    const stop = new AbortController();
    const fastDone = (async () => {
      for await (const ev of sb.subscribe([{ room }], { signal: stop.signal })) {
        if (ev.type === "message") {
          fast.push(ev.message.offset);
          fastTimes.push(Date.now());
        }
      }
    })();
    const session = connectH2(ts.url);
    const slow = rawCall(
      session,
      "Subscribe",
      token,
      encodeFrame(SubscribeRequestSchema, create(SubscribeRequestSchema, { rooms: [{ room }] })),
      { flowing: false },
    );
    try {
      await waitUntil("both subscriptions", () => ts.server.stats().activeSubscriptions === 2);
      const baseline = liveBytes();

      // 600 messages of 16000 bytes: ~9.6 MB, far beyond the 256 KiB queue.
      const total = 600;
      const text = "x".repeat(16_000);
      const sendTimes: number[] = [];
      let next = 0;
      await Promise.all(
        [0, 1, 2, 3].map(async () => {
          while (next < total) {
            next++;
            const t0 = Date.now();
            await sb.rpc.send({ room, text }, { timeoutMs: 20_000 });
            sendTimes.push(Date.now() - t0);
          }
        }),
      );
      const sentAt = Date.now();
      await waitUntil("the fast subscriber to get everything", () => fast.length === total);
      // The fast subscriber kept up: it had everything right after the last send.
      const lag = Math.max(0, (fastTimes.at(-1) ?? 0) - sentAt);
      assert.ok(lag < 2_000, `fast subscriber lagged ${lag} ms behind the sender`);
      assert.deepEqual(
        fast,
        [...fast].sort((a, b) => (a < b ? -1 : 1)),
        "fast subscriber in order",
      );
      assert.equal(new Set(fast).size, total, "fast subscriber without duplicates");
      sendTimes.sort((a, b) => a - b);
      const p99 = sendTimes[Math.floor(sendTimes.length * 0.99)] ?? 0;
      assert.ok(p99 < 2_000, `send p99 ${p99} ms while a subscriber is stuck`);

      // The stuck stream holds nothing but what flow control already buffered.
      const growth = liveBytes() - baseline;
      assert.ok(
        growth < 6 * MiB,
        `server heap grew by ${(growth / MiB).toFixed(1)} MiB with a stuck subscriber`,
      );
      // Its fan-out subscription was released as soon as it overflowed.
      assert.equal(ts.server.stats().activeSubscriptions, 1);

      slow.startReading();
      const res = await slow.done;
      const received = decodeFrames(SubscribeResponseSchema, res.body).flatMap((r) =>
        r.event.case === "message" ? [r.event.value.offset] : [],
      );
      assert.ok(received.length > 0 && received.length < total, `got ${received.length}`);
      assert.deepEqual(received, fast.slice(0, received.length), "a gap-free prefix");
      const last = received.at(-1);
      assert.equal(res.trailers["grpc-status"], String(Code.ResourceExhausted));
      const message = decodeURIComponent(String(res.trailers["grpc-message"]));
      assert.match(message, /^slow consumer: /);
      assert.ok(
        message.includes(`last delivered offsets: ${room}=${last}`),
        `"${message}" names offset ${last}`,
      );
      assert.equal(res.trailers["switchboard-resume-offsets"], `${room}=${last}`);
    } finally {
      stop.abort();
      await fastDone.catch(() => {});
      session.destroy();
    }
  });
});

describe("backpressure: a subscriber that never reads again", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startQueueBoundServer({ maxQueueBytes: 64 * 1024, slowConsumerGraceMs: 300 });
  });
  after(() => ts?.close());

  it("has its stream reset after the grace, releasing everything it held", async () => {
    const room = "bp-dead";
    const token = await ts.token({ subject: "bp", rooms: ["*"] });
    const sb = createSwitchboardClient({ baseUrl: ts.url, token });
    const session = connectH2(ts.url);
    const dead = rawCall(
      session,
      "Subscribe",
      token,
      encodeFrame(SubscribeRequestSchema, create(SubscribeRequestSchema, { rooms: [{ room }] })),
      { flowing: false },
    );
    try {
      await waitUntil("the subscription", () => ts.server.stats().activeSubscriptions === 1);
      const text = "y".repeat(8_000);
      for (let i = 0; i < 60; i++) await sb.rpc.send({ room, text });
      const res = await Promise.race([
        dead.done,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("stream not reset")), 10_000),
        ),
      ]);
      assert.equal(res.rstCode, constants.NGHTTP2_CANCEL);
      await waitUntil(
        "the server to release the stream",
        () => ts.server.stats().activeStreams === 0 && ts.server.stats().activeSubscriptions === 0,
      );
    } finally {
      session.destroy();
    }
  });
});

describe("backpressure: the SDK and a stalled consumer", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startQueueBoundServer({ maxQueueBytes: 64 * 1024, slowConsumerGraceMs: 120_000 });
  });
  after(() => ts?.close());

  it("subscribeWithResume resumes from history after ResourceExhausted and loses nothing", async () => {
    const room = "bp-sdk";
    const token = await ts.token({ subject: "bp", rooms: ["*"] });
    const sb = createSwitchboardClient({ baseUrl: ts.url, token });
    const stop = new AbortController();
    const it = sb.subscribe([{ room, from: { kind: "beginning" } }], { signal: stop.signal });
    const events: SubscriptionEvent[] = [];
    try {
      const first = await it.next();
      assert.equal(first.value?.type, "state");
      // The consumer stalls while 800 × 16 KB arrive (the queue holds 64 KiB;
      // the client's HTTP/2 buffers take a few MB).
      const total = 800;
      const sent: bigint[] = [];
      for (let i = 0; i < total; i++) {
        const res = await sb.rpc.send({ room, text: `${i}:${"z".repeat(16_000)}` });
        sent.push(res.message?.offset ?? -1n);
      }
      await new Promise((r) => setTimeout(r, 1_000));
      const got: bigint[] = [];
      const deadline = Date.now() + 30_000;
      while (got.length < total) {
        assert.ok(Date.now() < deadline, `timed out with ${got.length}/${total}`);
        const r = await it.next();
        assert.equal(r.done, false);
        const ev = r.value as SubscriptionEvent;
        events.push(ev);
        if (ev.type === "message") got.push(ev.message.offset);
      }
      assert.deepEqual(got, sent, "every offset exactly once, in order");
      const cutOff = events.filter(
        (e) => e.type === "reconnecting" && e.error.code === Code.ResourceExhausted,
      );
      assert.ok(cutOff.length >= 1, "the server cut the stalled stream off at least once");
    } finally {
      stop.abort();
      await it.return(undefined);
    }
  });
});

describe("flow control for files", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ backend: "sqlite" });
  });
  after(() => ts?.close());

  it("uploads and downloads 200 MiB with bounded server memory and the same sha256", async (t) => {
    const token = await ts.token({ subject: "files", rooms: ["*"] });
    const sb = createSwitchboardClient({ baseUrl: ts.url, token });
    const size = 200 * MiB;
    const block = randomBytes(256 * 1024);
    const baseline = liveBytes();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, liveBytes() - baseline);
    }, 100);
    try {
      const sent = createHash("sha256");
      const file = await sb.upload({ name: "big.bin", size }, async function* () {
        for (let at = 0; at < size; at += block.length) {
          sent.update(block);
          yield block;
        }
      });
      assert.equal(Number(file.size), size);
      assert.equal(file.sha256, sent.digest("hex"));
      const uploadPeak = peak;

      peak = 0;
      const got = createHash("sha256");
      let bytes = 0;
      await sb.download(file.id, (chunk) => {
        got.update(chunk);
        bytes += chunk.byteLength;
      });
      assert.equal(bytes, size);
      assert.equal(got.digest("hex"), file.sha256);
      const downloadPeak = peak;
      t.diagnostic(
        `peak live memory growth: upload ${(uploadPeak / MiB).toFixed(1)} MiB, download ${(downloadPeak / MiB).toFixed(1)} MiB`,
      );
      for (const [what, growth] of [
        ["upload", uploadPeak],
        ["download", downloadPeak],
      ] as const) {
        assert.ok(
          growth < 48 * MiB,
          `${what}: live memory grew by ${(growth / MiB).toFixed(1)} MiB for a 200 MiB file`,
        );
      }
    } finally {
      clearInterval(sampler);
    }
  });

  it("a download whose reader stops holds only a flow-control window on the server", async () => {
    const token = await ts.token({ subject: "files", rooms: ["*"] });
    const sb = createSwitchboardClient({ baseUrl: ts.url, token });
    const block = randomBytes(1024 * 1024);
    const file = await sb.upload({ name: "mid.bin" }, function* () {
      for (let i = 0; i < 64; i++) yield block;
    });
    const baseline = liveBytes();
    const ac = new AbortController();
    const stream = sb.rpc.download({ fileId: file.id }, { signal: ac.signal });
    const iterator = stream[Symbol.asyncIterator]();
    try {
      await iterator.next();
      // Stop reading: the server may only fill the flow-control window.
      await new Promise((r) => setTimeout(r, 1_000));
      const growth = liveBytes() - baseline;
      assert.ok(growth < 8 * MiB, `grew by ${(growth / MiB).toFixed(1)} MiB for a 64 MiB file`);
      assert.equal(ts.server.stats().activeStreams, 1);
    } finally {
      ac.abort();
      await iterator.return?.().catch(() => {});
    }
    await waitUntil("the download to be released", () => ts.server.stats().activeStreams === 0);
  });
});
