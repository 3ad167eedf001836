/**
 * The WebSocket tunnel's socket lifecycle: TLS (wss), shutdown (streams end
 * with unavailable, sockets close with 1001, unary calls get the grace
 * period), idle close and unanswered pings.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { mintToken } from "../src/auth/tokens.js";
import { createBackend } from "../src/backend/create-backend.js";
import { openChatSession } from "../src/client/chat-session.js";
import { TunnelFlag } from "../src/client/tunnel-frame.js";
import { SendRequestSchema, type SendResponse } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { defaultServerConfig } from "../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../src/server/serve.js";
import { createChatService } from "../src/service/chat-service.js";
import { waitFor } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";
import { createTestCertificate } from "./helpers/tls.js";
import { codeOf, openRawTunnel, openTunnelClient } from "./tunnel-harness.js";

const secret = new TextEncoder().encode("tunnel-lifecycle-test-secret-0123456789");

describe("tunnel over TLS", () => {
  let ts: TestServer;
  let dir: string;
  let ca: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchboard-tunnel-tls-"));
    const { cert, key, ca: trusted } = await createTestCertificate(dir);
    ca = trusted;
    ts = await startTestServer({ config: { tlsCert: cert, tlsKey: key } });
  });
  after(async () => {
    await ts?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Chat and Upload work over wss:// on the TLS port", async () => {
    assert.match(ts.url, /^https:/);
    const token = await ts.token({ subject: "ada", rooms: ["*"] });
    const c = openTunnelClient(ts.url, token, { ws: { ca } });
    try {
      const chat = openChatSession(c.api);
      await chat.join("tls-room");
      const ack = await chat.send("tls-room", "over wss");
      assert.equal(ack.message?.text, "over wss");
      chat.close();
      await chat.done;
      const res = await c.api.upload(
        (async function* () {
          yield { payload: { case: "metadata" as const, value: { name: "t.txt" } } };
          yield { payload: { case: "chunk" as const, value: new TextEncoder().encode("tls") } };
        })(),
      );
      assert.equal(res.file?.size, 3n);
    } finally {
      c.close();
    }
  });
});

describe("tunnel shutdown and keepalive", () => {
  let server: SwitchboardServer;
  let token: string;
  let closed = false;
  const slowSend = { started: 0 };

  before(async () => {
    const backend = await createBackend({ kind: "memory" });
    const real = createChatService({ backend });
    server = await serveChatService({
      config: { ...defaultServerConfig, port: 0, shutdownGraceMs: 2_000 },
      secret,
      backend,
      service: {
        ...real,
        // A unary call that takes 300 ms, to prove shutdown waits for it.
        async send(req, ctx) {
          if (req.text === "slow") {
            slowSend.started++;
            await new Promise((r) => setTimeout(r, 300));
          }
          return real.send(req, ctx);
        },
      },
      errorLog: () => {},
      tunnel: { idleTimeoutMs: 300, pingIntervalMs: 200 },
    });
    token = await mintToken(secret, { subject: "ada", rooms: ["*"] });
  });
  after(async () => {
    if (!closed) await server.close();
  });

  it("a socket without calls is closed after the idle timeout (1000)", async () => {
    const r = await openRawTunnel(server.url);
    const started = Date.now();
    const { code } = await r.closed;
    assert.equal(code, 1000);
    assert.ok(Date.now() - started >= 150);
  });

  it("a socket that stops answering pings is dropped and its calls are cancelled", async () => {
    const r = await openRawTunnel(server.url, { autoPong: false });
    r.open(1, "Chat", { authorization: `Bearer ${token}` });
    const { code } = await r.closed;
    assert.equal(code, 1006);
    await waitFor("subscription-free", () => server.backend.fanout.activeSubscriptions === 0);
  });

  it("shutdown ends streams with unavailable, lets unary calls finish, closes sockets with 1001", async () => {
    const c = openTunnelClient(server.url, token);
    const raw = await openRawTunnel(server.url);
    const chat = openChatSession(c.api);
    await chat.join("shutdown-room");
    raw.open(1, "Send", { authorization: `Bearer ${token}` });
    raw.send(
      1,
      TunnelFlag.message,
      toBinary(SendRequestSchema, create(SendRequestSchema, { room: "r", text: "slow" })),
    );
    raw.send(1, TunnelFlag.end);
    const slow: Promise<SendResponse> = c.api.send({ room: "r", text: "slow" });
    await waitFor("slow sends started", () => slowSend.started === 2);
    closed = true;
    const closing = server.close();
    assert.equal(Code[await codeOf(chat.done)], "Unavailable");
    assert.equal((await slow).message?.text, "slow");
    assert.equal((await raw.end(1)).error, undefined);
    assert.equal((await raw.closed).code, 1001);
    await closing;
    c.close();
  });
});
