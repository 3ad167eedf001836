/**
 * `GET /healthz`, the plain HTTP readiness route load balancers probe: 200
 * while the backend is ready, 503 while it is not, on HTTP/1.1 and h2c alike.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { createMemoryBackend } from "../src/backend/memory/index.js";
import type { Backend, BackendHealth } from "../src/backend/types.js";
import { defaultServerConfig } from "../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../src/server/serve.js";
import { createChatService } from "../src/service/chat-service.js";

function h2Get(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request({ ":method": "GET", ":path": path });
    let body = "";
    let status = 0;
    req.setEncoding("utf8");
    req.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    req.on("data", (d: string) => {
      body += d;
    });
    req.on("end", () => {
      session.close();
      resolve({ status, body });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("GET /healthz", () => {
  let server: SwitchboardServer;
  let backend: Backend;
  let health: BackendHealth = { ready: true, reason: "" };
  before(async () => {
    const memory = createMemoryBackend();
    backend = { ...memory, kind: memory.kind, health: () => health, close: () => memory.close() };
    server = await serveChatService({
      config: { ...defaultServerConfig, port: 0, shutdownGraceMs: 100 },
      secret: new Uint8Array(32),
      backend,
      service: createChatService({ backend }),
      errorLog: () => {},
    });
  });
  after(() => server?.close());

  it("answers 200 ok over HTTP/1.1 and h2c while the backend is ready, without a token", async () => {
    health = { ready: true, reason: "" };
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok\n");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.deepEqual(await h2Get(server.url, "/healthz"), { status: 200, body: "ok\n" });
  });

  it("answers 503 with the reason while the backend is not ready, and 200 again after", async () => {
    health = { ready: false, reason: "nats: disconnected" };
    const res = await fetch(`${server.url}/healthz?probe=1`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "not ready: nats: disconnected\n");
    assert.equal((await h2Get(server.url, "/healthz")).status, 503);
    health = { ready: true, reason: "" };
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it("answers HEAD without a body and other methods with 405", async () => {
    const head = await fetch(`${server.url}/healthz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const post = await fetch(`${server.url}/healthz`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.text();
  });

  it("leaves other unknown paths 404", async () => {
    const res = await fetch(`${server.url}/healthz/more`);
    assert.equal(res.status, 404);
    await res.text();
  });
});
