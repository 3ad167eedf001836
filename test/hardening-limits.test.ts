/**
 * Configurable limits over real sockets: request message size, concurrent
 * HTTP/2 streams per connection, concurrent streaming calls per user, and the
 * per-user send rate (ResourceExhausted with a retry-after-ms hint that the
 * SDK honours) — plus how they are read from the environment and flags.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { createSwitchboardClient } from "../src/client/index.js";
import { SubscribeRequestSchema } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { ConfigError, serverConfigFromEnv } from "../src/server/config.js";
import { defaultConnectionLimits } from "../src/server/limits/settings.js";
import { defaultServiceLimits } from "../src/service/limits.js";
import { createPushable, expectConnectError, protocolVariants } from "./helpers/clients.js";
import { connectH2, encodeFrame, rawCall } from "./helpers/raw-h2.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("limits: request size and concurrent streams", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      limits: { maxTextBytes: 1024 * 1024 },
      config: { maxMessageBytes: 64 * 1024, maxStreamsPerConnection: 3, maxStreamsPerUser: 2 },
    });
  });
  after(() => ts?.close());

  for (const v of protocolVariants) {
    it(`rejects a request message above maxMessageBytes with ResourceExhausted (${v.name})`, async () => {
      const token = await ts.token({ subject: "big", rooms: ["*"] });
      const c = v.open(ts.url, token);
      try {
        const ok = await c.api.send({ room: "size", text: "a".repeat(60_000) });
        assert.ok(ok.message);
        const err = await expectConnectError(
          c.api.send({ room: "size", text: "b".repeat(70_000) }, { timeoutMs: 5_000 }),
        );
        assert.equal(err.code, Code.ResourceExhausted, err.message);
      } finally {
        c.close();
      }
    });
  }

  it("announces SETTINGS_MAX_CONCURRENT_STREAMS and holds a connection to that many concurrent calls", async () => {
    const session = connectH2(ts.url);
    try {
      await new Promise<void>((resolve) => session.once("remoteSettings", () => resolve()));
      assert.equal(session.remoteSettings.maxConcurrentStreams, 3);
      const body = encodeFrame(
        SubscribeRequestSchema,
        create(SubscribeRequestSchema, { rooms: [{ room: "streams" }] }),
      );
      // Different users, so only the connection limit applies.
      const tokens = await Promise.all(
        [0, 1, 2, 3].map((i) => ts.token({ subject: `conn-${i}`, rooms: ["*"] })),
      );
      const calls = tokens.map((t) => rawCall(session, "Subscribe", t, body));
      const answered = calls.map(
        (c) => new Promise<void>((resolve) => c.stream.once("response", () => resolve())),
      );
      await Promise.all(answered.slice(0, 3));
      await waitUntil("three streams", () => ts.server.stats().activeStreams === 3);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ts.server.stats().activeStreams, 3, "the fourth call waits");
      let fourthAnswered = false;
      void answered[3]!.then(() => {
        fourthAnswered = true;
      });
      assert.equal(fourthAnswered, false);
      calls[0]!.stream.close();
      await answered[3];
      await waitUntil("the fourth stream to run", () => ts.server.stats().activeStreams === 3);
    } finally {
      session.destroy();
    }
    await waitUntil("streams released", () => ts.server.stats().activeStreams === 0);
  });

  it("allows maxStreamsPerUser streaming calls per user across connections, then ResourceExhausted", async () => {
    const alice = await ts.token({ subject: "alice", rooms: ["*"] });
    const bob = await ts.token({ subject: "bob", rooms: ["*"] });
    const a1 = createSwitchboardClient({ baseUrl: ts.url, token: alice });
    const a2 = createSwitchboardClient({ baseUrl: ts.url, token: alice });
    const b = createSwitchboardClient({ baseUrl: ts.url, token: bob });
    const controllers: AbortController[] = [];
    const open = async (client: typeof a1) => {
      const ac = new AbortController();
      controllers.push(ac);
      const it = client.rpc
        .subscribe({ rooms: [{ room: "per-user" }] }, { signal: ac.signal })
        [Symbol.asyncIterator]();
      await it.next();
      return ac;
    };
    try {
      const first = await open(a1);
      await open(a2);
      const err = await expectConnectError(open(a1));
      assert.equal(err.code, Code.ResourceExhausted);
      assert.match(err.rawMessage, /too many concurrent streams: at most 2 per user/);
      await open(b); // another user is not affected
      first.abort();
      await waitUntil("alice's stream released", () => ts.server.stats().activeStreams === 2);
      await open(a1); // a slot is free again
    } finally {
      for (const ac of controllers) ac.abort();
    }
    await waitUntil("all released", () => ts.server.stats().activeStreams === 0);
  });
});

describe("limits: per-user send rate", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ limits: { sendRatePerSec: 5, sendBurst: 3 } });
  });
  after(() => ts?.close());

  for (const v of protocolVariants) {
    it(`answers a send over the rate with ResourceExhausted and a retry-after-ms hint (${v.name})`, async () => {
      const token = await ts.token({ subject: `rate-${v.name}`, rooms: ["*"] });
      const c = v.open(ts.url, token);
      try {
        for (let i = 0; i < 3; i++) await c.api.send({ room: "rate", text: `m${i}` });
        const err = await expectConnectError(c.api.send({ room: "rate", text: "over" }));
        assert.equal(err.code, Code.ResourceExhausted);
        assert.match(
          decodeURIComponent(err.rawMessage),
          /^rate limit: at most 5 sends per second per user \(burst 3\); retry after \d+ ms$/,
        );
        const inMessage = Number(
          /retry after (\d+) ms/.exec(decodeURIComponent(err.rawMessage))?.[1],
        );
        // The grpc-js test adapter does not carry trailers over; connect-node does.
        const hint =
          v.library === "grpc-js" ? inMessage : Number(err.metadata.get("retry-after-ms"));
        assert.equal(hint, inMessage);
        assert.ok(hint > 0 && hint <= 200, `retry-after-ms ${hint}`);
        await new Promise((r) => setTimeout(r, hint));
        await c.api.send({ room: "rate", text: "after the wait" });
      } finally {
        c.close();
      }
    });
  }

  it("sendWithRetry waits as told and succeeds; another user is not limited", async () => {
    const token = await ts.token({ subject: "patient", rooms: ["*"] });
    const other = await ts.token({ subject: "other", rooms: ["*"] });
    const sb = createSwitchboardClient({ baseUrl: ts.url, token });
    const sbOther = createSwitchboardClient({ baseUrl: ts.url, token: other });
    const retries: ConnectError[] = [];
    const started = Date.now();
    for (let i = 0; i < 6; i++) {
      await sb.send("rate-sdk", `m${i}`, {
        maxAttempts: 10,
        onRetry: ({ error }) => retries.push(error),
      });
    }
    const elapsed = Date.now() - started;
    assert.ok(retries.length >= 1, "at least one send was rate limited");
    assert.ok(retries.every((e) => e.code === Code.ResourceExhausted));
    // 3 at once, then 5 per second: the sixth needs about 600 ms.
    assert.ok(elapsed >= 450, `took ${elapsed} ms`);
    const page = await sb.history("rate-sdk", { limit: 50 });
    assert.equal(page.messages.length, 6, "each message stored exactly once");
    await sbOther.rpc.send({ room: "rate-sdk", text: "unaffected" });
  });

  it("limits Chat send frames too, with a resource_exhausted ChatError naming the wait", async () => {
    const token = await ts.token({ subject: "chatty", rooms: ["*"] });
    const v = protocolVariants.find((p) => p.bidiStreaming)!;
    const c = v.open(ts.url, token);
    const frames = createPushable<{
      requestId: string;
      action: { case: "send"; value: { room: string; text: string } };
    }>();
    try {
      const stream = c.api.chat(frames, { timeoutMs: 10_000 })[Symbol.asyncIterator]();
      for (let i = 0; i < 4; i++) {
        frames.push({
          requestId: `r${i}`,
          action: { case: "send", value: { room: "rc", text: "x" } },
        });
      }
      const answers = new Map<string, string>();
      while (answers.size < 4) {
        const r = await stream.next();
        assert.equal(r.done, false);
        const ev = r.value.event;
        if (ev.case === "ack") answers.set(ev.value.requestId, "ack");
        if (ev.case === "error") {
          answers.set(ev.value.requestId, `${ev.value.code}: ${ev.value.message}`);
        }
      }
      assert.deepEqual([...answers.keys()].sort(), ["r0", "r1", "r2", "r3"]);
      assert.equal([...answers.values()].filter((a) => a === "ack").length, 3);
      assert.match(
        answers.get("r3") ?? "",
        /^resource_exhausted: rate limit: .*retry after \d+ ms$/,
      );
    } finally {
      frames.end();
      c.close();
    }
  });
});

describe("limits: configuration", () => {
  it("reads every limit from SWITCHBOARD_* variables and names the variable of a bad value", () => {
    const config = serverConfigFromEnv({
      SWITCHBOARD_MAX_MESSAGE_BYTES: "2097152",
      SWITCHBOARD_MAX_STREAMS_PER_CONNECTION: "50",
      SWITCHBOARD_MAX_STREAMS_PER_USER: "20",
      SWITCHBOARD_KEEPALIVE_MS: "0",
      SWITCHBOARD_KEEPALIVE_TIMEOUT_MS: "5000",
      SWITCHBOARD_IDLE_TIMEOUT_MS: "60000",
      SWITCHBOARD_MAX_STREAM_AGE_MS: "600000",
      SWITCHBOARD_SEND_RATE_PER_SEC: "10",
      SWITCHBOARD_SEND_BURST: "30",
      SWITCHBOARD_SLOW_CONSUMER_GRACE_MS: "2000",
    });
    assert.equal(config.maxMessageBytes, 2_097_152);
    assert.equal(config.maxStreamsPerConnection, 50);
    assert.equal(config.maxStreamsPerUser, 20);
    assert.equal(config.keepaliveIntervalMs, 0);
    assert.equal(config.keepaliveTimeoutMs, 5_000);
    assert.equal(config.idleTimeoutMs, 60_000);
    assert.equal(config.maxStreamAgeMs, 600_000);
    assert.deepEqual(config.limits, {
      sendRatePerSec: 10,
      sendBurst: 30,
      slowConsumerGraceMs: 2_000,
    });
    for (const [name, value] of [
      ["SWITCHBOARD_MAX_MESSAGE_BYTES", "10"],
      ["SWITCHBOARD_MAX_STREAMS_PER_USER", "0"],
      ["SWITCHBOARD_KEEPALIVE_MS", "soon"],
      ["SWITCHBOARD_MAX_STREAM_AGE_MS", "99999999999"],
      ["SWITCHBOARD_SEND_RATE_PER_SEC", "0"],
    ] as const) {
      assert.throws(
        () => serverConfigFromEnv({ [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${name}:`),
        name,
      );
    }
  });

  it("has production defaults for every limit", () => {
    assert.deepEqual(
      { ...defaultConnectionLimits },
      {
        maxMessageBytes: 4 * 1024 * 1024,
        maxStreamsPerConnection: 100,
        maxStreamsPerUser: 100,
        keepaliveIntervalMs: 30_000,
        keepaliveTimeoutMs: 10_000,
        idleTimeoutMs: 300_000,
        maxStreamAgeMs: 0,
      },
    );
    assert.equal(defaultServiceLimits.sendRatePerSec, 500);
    assert.equal(defaultServiceLimits.sendBurst, 1_000);
    assert.equal(defaultServiceLimits.slowConsumerGraceMs, 5_000);
    assert.ok(defaultConnectionLimits.maxMessageBytes > defaultServiceLimits.maxChunkBytes);
  });
});
