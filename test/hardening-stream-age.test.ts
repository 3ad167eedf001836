/**
 * Stream rebalancing over real sockets: with a short maximum stream age,
 * Subscribe streams end with Unavailable and a resume hint (the last
 * delivered offsets), and the SDK reconnects — through an HTTP/2 load
 * balancer, to the other node — seeing every offset exactly once across
 * several rebalances while messages keep coming.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { mintToken } from "../src/auth/tokens.js";
import { createBackend } from "../src/backend/create-backend.js";
import type { Backend } from "../src/backend/types.js";
import { createSwitchboardClient } from "../src/client/index.js";
import {
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { defaultServerConfig } from "../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../src/server/serve.js";
import { createChatService } from "../src/service/chat-service.js";
import { connectH2, decodeFrames, encodeFrame, rawCall } from "./helpers/raw-h2.js";

/**
 * A minimal HTTP/2 (L7) load balancer: every incoming stream goes to the next
 * target, round robin, with headers, body, trailers and resets forwarded.
 */
async function startBalancer(targets: string[]): Promise<{
  url: string;
  /** Subscribe calls forwarded per target. */
  subscribes: number[];
  close(): Promise<void>;
}> {
  const upstreams = targets.map((t) => {
    const s = http2.connect(t);
    s.on("error", () => {});
    return s;
  });
  const subscribes = targets.map(() => 0);
  let next = 0;
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    s.on("error", () => {});
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const i = next++ % upstreams.length;
    if (String(headers[":path"]).endsWith("/Subscribe")) subscribes[i] = (subscribes[i] ?? 0) + 1;
    const forward: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":")) forward[k] = v;
    const up = upstreams[i]!.request({
      ...forward,
      ":method": headers[":method"],
      ":path": headers[":path"],
    });
    up.on("error", () => {});
    let trailers: http2.OutgoingHttpHeaders = {};
    up.on("trailers", (t) => {
      trailers = t;
    });
    up.on("response", (h) => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") || k === ":status") out[k] = v;
      stream.respond(out, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers(trailers));
      up.pipe(stream);
    });
    stream.pipe(up);
    up.on("close", () => {
      if (up.rstCode && !stream.closed) stream.close(up.rstCode);
    });
    stream.on("close", () => {
      if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    subscribes,
    async close() {
      for (const s of upstreams) s.destroy();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("max stream age", () => {
  const secret = new Uint8Array(randomBytes(32));
  let backend: Backend;
  let nodes: SwitchboardServer[] = [];
  before(async () => {
    backend = await createBackend({ kind: "memory" });
    // Two nodes on one backend, as in cluster mode.
    const service = createChatService({ backend });
    const start = () =>
      serveChatService({
        config: { ...defaultServerConfig, port: 0, maxStreamAgeMs: 400, shutdownGraceMs: 200 },
        secret,
        backend,
        service,
        errorLog: () => {},
      });
    nodes = [await start(), await start()];
  });
  after(async () => {
    for (const node of nodes) await node.close();
  });

  it("ends a Subscribe stream with Unavailable and the last delivered offsets (message and trailer)", async () => {
    const token = await mintToken(secret, { subject: "raw", rooms: ["*"] });
    const sb = createSwitchboardClient({ baseUrl: nodes[0]!.url, token });
    const room = "age-raw";
    const session = connectH2(nodes[0]!.url);
    try {
      const call = rawCall(
        session,
        "Subscribe",
        token,
        encodeFrame(SubscribeRequestSchema, create(SubscribeRequestSchema, { rooms: [{ room }] })),
      );
      await new Promise<void>((resolve) => call.stream.once("response", () => resolve()));
      const offsets: bigint[] = [];
      for (let i = 0; i < 3; i++) {
        offsets.push((await sb.rpc.send({ room, text: `m${i}` })).message?.offset ?? 0n);
      }
      const started = Date.now();
      const res = await call.done;
      const took = Date.now() - started;
      assert.ok(took < 1_000, `ended ${took} ms after the sends (age 400 ms ± 10 %)`);
      const got = decodeFrames(SubscribeResponseSchema, res.body).flatMap((r) =>
        r.event.case === "message" ? [r.event.value.offset] : [],
      );
      assert.deepEqual(got, offsets);
      assert.equal(res.trailers["grpc-status"], String(Code.Unavailable));
      const message = decodeURIComponent(String(res.trailers["grpc-message"]));
      assert.match(message, /^stream reached its maximum age of \d+ ms; reconnect and resume/);
      assert.ok(message.endsWith(`last delivered offsets: ${room}=${offsets[2]}`), message);
      assert.equal(res.trailers["switchboard-resume-offsets"], `${room}=${offsets[2]}`);
    } finally {
      session.destroy();
    }
  });

  it("the SDK reconnects through a balancer to both nodes and sees every offset exactly once across rebalances", async () => {
    const balancer = await startBalancer(nodes.map((n) => n.url));
    const token = await mintToken(secret, { subject: "sub", rooms: ["*"] });
    const sender = createSwitchboardClient({ baseUrl: nodes[0]!.url, token });
    const sb = createSwitchboardClient({ baseUrl: balancer.url, token });
    const room = "age-sdk";
    const stop = new AbortController();
    const got: bigint[] = [];
    const hints: string[] = [];
    let sending = true;
    const sent: bigint[] = [];
    try {
      const subscribed = (async () => {
        for await (const ev of sb.subscribe([{ room, from: { kind: "beginning" } }], {
          signal: stop.signal,
        })) {
          if (ev.type === "message") got.push(ev.message.offset);
          if (ev.type === "reconnecting") {
            assert.equal(ev.error.code, Code.Unavailable, ev.error.message);
            assert.ok(ev.delayMs <= 50, `planned reconnect waited ${ev.delayMs} ms`);
            hints.push(ev.error.metadata.get("switchboard-resume-offsets") ?? "");
          }
        }
      })();
      const sendLoop = (async () => {
        while (sending) {
          const res = await sender.rpc.send({ room, text: `t${sent.length}` });
          sent.push(res.message?.offset ?? 0n);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const deadline = Date.now() + 20_000;
      while (hints.length < 5) {
        assert.ok(Date.now() < deadline, `only ${hints.length} rebalances`);
        await new Promise((r) => setTimeout(r, 50));
      }
      sending = false;
      await sendLoop;
      while (got.length < sent.length) {
        assert.ok(Date.now() < deadline, `got ${got.length} of ${sent.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(got, sent, "every offset exactly once, in order");
      assert.ok(sent.length > 50, `sent ${sent.length}`);
      // Each hint names the last offset delivered before that reconnect.
      for (const hint of hints.filter((h) => h !== "")) {
        const offset = BigInt(hint.replace(`${room}=`, ""));
        assert.ok(got.includes(offset), `hint ${hint} was delivered`);
      }
      assert.ok(
        (balancer.subscribes[0] ?? 0) >= 2 && (balancer.subscribes[1] ?? 0) >= 2,
        `subscribes per node: ${balancer.subscribes}`,
      );
      stop.abort();
      await subscribed;
    } finally {
      sending = false;
      stop.abort();
      await balancer.close();
    }
  });
});
