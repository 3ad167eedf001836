/**
 * grpc.health.v1.Health on the API port: readiness follows the backend's
 * health() and the drain state, Watch streams changes and ends on shutdown,
 * and no token is needed. Clients: @grpc/grpc-js loading the vendored
 * health.proto with proto-loader, and connect-node over HTTP/1.1 (Connect
 * protocol, JSON) against the fully wired createSwitchboardServer.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { createMemoryBackend } from "../src/backend/memory/index.js";
import type { Backend } from "../src/backend/types.js";
import { defaultServerConfig } from "../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../src/server/serve.js";
import { createChatService } from "../src/service/chat-service.js";
import { startTestServer } from "./helpers/start-server.js";
import { loadGrpcService } from "./interop/load-grpc-service.js";

const protoRoot = fileURLToPath(new URL("../proto", import.meta.url));
const HealthClient = loadGrpcService(
  protoRoot,
  "grpc/health/v1/health.proto",
  "grpc.health.v1.Health",
);
const ChatClient = loadGrpcService(
  protoRoot,
  "switchboard/chat/v1/chat.proto",
  "switchboard.chat.v1.ChatService",
);

type HealthStub = grpc.Client & {
  Check(
    req: { service: string },
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): grpc.Call;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

/** A server whose backend readiness the test switches. */
async function startHealthServer(): Promise<{
  server: SwitchboardServer;
  setReady(ready: boolean): void;
  health: HealthStub;
}> {
  const inner = createMemoryBackend();
  let ready = true;
  const backend = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "health") {
        return () => (ready ? { ready: true, reason: "" } : { ready: false, reason: "store down" });
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as Backend;
  const server = await serveChatService({
    config: { ...defaultServerConfig, host: "127.0.0.1", port: 0, shutdownGraceMs: 500 },
    secret: new Uint8Array(randomBytes(32)),
    backend,
    service: createChatService({ backend }),
    healthWatchIntervalMs: 20,
    errorLog: () => {},
  });
  const health = new HealthClient(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as HealthStub;
  return {
    server,
    health,
    setReady(r) {
      ready = r;
    },
  };
}

function check(health: HealthStub, service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    health.Check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status)));
  });
}

/** Collects a Watch stream's statuses; `next()` waits for the next one. */
function watch(health: HealthStub, service: string) {
  const call = health.Watch({ service });
  const seen: string[] = [];
  let wake: (() => void) | undefined;
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("data", (m: { status: string }) => {
    seen.push(m.status);
    wake?.();
  });
  call.on("error", () => {});
  void ended.then(() => wake?.());
  let taken = 0;
  return {
    call,
    ended,
    async next(timeoutMs = 10_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (seen.length <= taken) {
        if (Date.now() > deadline) throw new Error("no Watch message in time");
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
      return seen[taken++]!;
    },
    seen,
  };
}

describe("gRPC health service", { timeout: 60_000 }, () => {
  it("answers SERVING for the server and ChatService, without a token", async (t) => {
    const s = await startHealthServer();
    t.after(async () => {
      s.health.close();
      await s.server.close();
    });
    assert.equal(await check(s.health, ""), "SERVING");
    assert.equal(await check(s.health, "switchboard.chat.v1.ChatService"), "SERVING");
  });

  it("answers NOT_SERVING while the backend is not ready and SERVING once it is again", async (t) => {
    const s = await startHealthServer();
    t.after(async () => {
      s.health.close();
      await s.server.close();
    });
    s.setReady(false);
    assert.equal(await check(s.health, ""), "NOT_SERVING");
    assert.equal(await check(s.health, "switchboard.chat.v1.ChatService"), "NOT_SERVING");
    s.setReady(true);
    assert.equal(await check(s.health, ""), "SERVING");
  });

  it("fails Check of an unknown service with NOT_FOUND", async (t) => {
    const s = await startHealthServer();
    t.after(async () => {
      s.health.close();
      await s.server.close();
    });
    await assert.rejects(check(s.health, "no.such.Service"), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.NOT_FOUND);
      return true;
    });
  });

  it("streams the current status and then every change with Watch", async (t) => {
    const s = await startHealthServer();
    const w = watch(s.health, "switchboard.chat.v1.ChatService");
    t.after(async () => {
      w.call.cancel();
      s.health.close();
      await s.server.close();
    });
    assert.equal(await w.next(), "SERVING");
    s.setReady(false);
    assert.equal(await w.next(), "NOT_SERVING");
    s.setReady(true);
    assert.equal(await w.next(), "SERVING");
    assert.deepEqual(w.seen, ["SERVING", "NOT_SERVING", "SERVING"], "only changes are sent");
  });

  it("reports SERVICE_UNKNOWN to Watch of an unknown service and keeps the stream open", async (t) => {
    const s = await startHealthServer();
    const w = watch(s.health, "no.such.Service");
    t.after(async () => {
      w.call.cancel();
      s.health.close();
      await s.server.close();
    });
    assert.equal(await w.next(), "SERVICE_UNKNOWN");
    const early = await Promise.race([
      w.ended.then(() => "ended"),
      new Promise((r) => setTimeout(() => r("open"), 300)),
    ]);
    assert.equal(early, "open");
  });

  it("sends NOT_SERVING to watchers on shutdown and ends their streams with UNAVAILABLE", async (t) => {
    const s = await startHealthServer();
    const w = watch(s.health, "");
    t.after(async () => {
      s.health.close();
      await s.server.close();
    });
    assert.equal(await w.next(), "SERVING");
    const closing = s.server.close();
    assert.equal(await w.next(), "NOT_SERVING");
    const status = await w.ended;
    assert.equal(status.code, grpc.status.UNAVAILABLE, status.details);
    await closing;
  });

  it("lets health through without a token while ChatService still requires one", async (t) => {
    const s = await startHealthServer();
    const chat = new ChatClient(
      `127.0.0.1:${s.server.port}`,
      grpc.credentials.createInsecure(),
    ) as unknown as grpc.Client & {
      History(req: object, cb: (err: grpc.ServiceError | null) => void): void;
    };
    t.after(async () => {
      chat.close();
      s.health.close();
      await s.server.close();
    });
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      chat.History({ room: "lobby" }, resolve),
    );
    assert.equal(err?.code, grpc.status.UNAUTHENTICATED);
    assert.equal(await check(s.health, ""), "SERVING");
  });

  it("is served by createSwitchboardServer over the Connect protocol too (HTTP/1.1, JSON)", async (t) => {
    const ts = await startTestServer();
    t.after(() => ts.close());
    const res = await fetch(`${ts.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ service: "switchboard.chat.v1.ChatService" }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "SERVING" });
  });
});
