/**
 * Keepalive over real sockets: the server PINGs HTTP/2 peers and closes the
 * connection of one that stops answering (a peer behind a paused TCP proxy:
 * no FIN, no RST), releasing its streams; live peers are left alone. HTTP/2
 * connections without calls are closed after the idle timeout.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createSwitchboardClient } from "../src/client/index.js";
import {
  SendRequestSchema,
  SubscribeRequestSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { connectH2, encodeFrame, rawCall } from "./helpers/raw-h2.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

/** A TCP proxy to `port` whose forwarding can be frozen (the peer goes silent). */
async function startProxy(port: number): Promise<{
  url: string;
  freeze(): void;
  close(): Promise<void>;
}> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.once("close", () => {
      client.destroy();
      pairs.delete(pair);
    });
    client.once("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: own } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    freeze() {
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

describe("keepalive: a peer that stops answering", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      config: { keepaliveIntervalMs: 200, keepaliveTimeoutMs: 300, idleTimeoutMs: 0 },
    });
  });
  after(() => ts?.close());

  it("is found by PING and its connection closed within interval + timeout, releasing its subscription", async () => {
    const proxy = await startProxy(ts.port);
    const token = await ts.token({ subject: "ka", rooms: ["*"] });
    const sb = createSwitchboardClient({ baseUrl: proxy.url, token });
    const stop = new AbortController();
    const it = sb.rpc
      .subscribe({ rooms: [{ room: "ka" }] }, { signal: stop.signal })
      [Symbol.asyncIterator]();
    try {
      await it.next();
      assert.equal(ts.server.stats().activeSubscriptions, 1);
      // A live peer answers every PING and keeps its connection.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(ts.server.stats().openConnections, 1);
      assert.equal(ts.server.stats().activeSubscriptions, 1);

      proxy.freeze();
      const tookMs = await waitUntil(
        "the server to drop the silent peer",
        () => ts.server.stats().openConnections === 0,
        5_000,
      );
      assert.ok(tookMs <= 2_000, `took ${tookMs} ms (interval 200 + timeout 300)`);
      await waitUntil(
        "subscription released",
        () => ts.server.stats().activeSubscriptions === 0,
        2_000,
      );
      assert.equal(ts.server.stats().activeStreams, 0);
    } finally {
      stop.abort();
      await it.return?.().catch(() => {});
      await proxy.close();
    }
  });
});

describe("keepalive: idle connections", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      config: { keepaliveIntervalMs: 0, idleTimeoutMs: 400 },
    });
  });
  after(() => ts?.close());

  it("closes an HTTP/2 connection without calls after the idle timeout (GOAWAY), never one with an open stream", async () => {
    const token = await ts.token({ subject: "idle", rooms: ["*"] });
    const busy = connectH2(ts.url);
    const idle = connectH2(ts.url);
    try {
      const sub = rawCall(
        busy,
        "Subscribe",
        token,
        encodeFrame(
          SubscribeRequestSchema,
          create(SubscribeRequestSchema, { rooms: [{ room: "idle" }] }),
        ),
      );
      await new Promise<void>((resolve) => sub.stream.once("response", () => resolve()));
      const send = rawCall(
        idle,
        "Send",
        token,
        encodeFrame(SendRequestSchema, create(SendRequestSchema, { room: "idle", text: "hi" })),
      );
      const sent = await send.done;
      assert.equal(sent.trailers["grpc-status"], "0");
      const goaway = new Promise<void>((resolve) => idle.once("goaway", () => resolve()));
      const closed = new Promise<void>((resolve) => idle.once("close", () => resolve()));
      const started = Date.now();
      await goaway;
      await closed;
      const took = Date.now() - started;
      assert.ok(took >= 300 && took < 3_000, `closed after ${took} ms`);
      // The connection with a subscription stays, past several idle periods.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(busy.closed, false);
      assert.equal(ts.server.stats().activeSubscriptions, 1);
      assert.equal(ts.server.stats().openConnections, 1);
    } finally {
      busy.destroy();
      idle.destroy();
    }
  });
});
