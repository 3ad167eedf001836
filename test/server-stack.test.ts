/**
 * The server stack (listener, auth gate, unary cap, error hygiene, CORS,
 * drain) with a small stand-in ChatService, so behaviours that need a slow
 * or failing handler can be proven.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { mintToken } from "../src/auth/tokens.js";
import { createBackend } from "../src/backend/create-backend.js";
import {
  ChatService,
  MessageSchema,
  SendResponseSchema,
  UploadResponseSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { defaultServerConfig } from "../src/server/config.js";
import { corsAllowedHeaders } from "../src/server/cors.js";
import { type SwitchboardServer, serveChatService } from "../src/server/serve.js";
import { kUser } from "../src/service/context-values.js";

const secret = new Uint8Array(randomBytes(32));

/** What the stand-in service observed. */
const seen = {
  sendSignalAbortedWith: undefined as unknown,
  sendFinishedAfterAbort: false,
  uploadInput: "" as string,
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });
}

const fakeService: Partial<ServiceImpl<typeof ChatService>> = {
  async send(req, ctx) {
    const user = ctx.values.get(kUser);
    if (!user) throw new ConnectError("no user", Code.Unauthenticated);
    if (req.text === "boom") throw new Error("ENOENT /var/secret/db.sqlite at line 42");
    if (req.text.startsWith("sleep:")) {
      const ms = Number(req.text.slice(6));
      ctx.signal.addEventListener("abort", () => {
        seen.sendSignalAbortedWith = ctx.signal.reason;
      });
      await sleep(ms, ctx.signal);
    }
    if (req.text.startsWith("ignore-signal:")) {
      // Ignores ctx.signal on purpose: the cap must still answer in time.
      await new Promise((r) => setTimeout(r, Number(req.text.slice(14))));
      seen.sendFinishedAfterAbort = ctx.signal.aborted;
    }
    return create(SendResponseSchema, {
      message: create(MessageSchema, {
        room: req.room,
        text: req.text,
        sender: { id: user.id, displayName: user.name },
      }),
    });
  },
  async upload(reqs) {
    try {
      for await (const _ of reqs) {
        // drain the input
      }
      seen.uploadInput = "ended";
    } catch (e) {
      seen.uploadInput = `threw ${Code[ConnectError.from(e).code]}`;
      throw e;
    }
    return create(UploadResponseSchema, {});
  },
  async *subscribe(_req, ctx) {
    yield { event: { case: "heartbeat", value: {} } };
    await sleep(60_000, ctx.signal);
  },
  // biome-ignore lint/correctness/useYield: fails before the first message on purpose
  async *download() {
    throw new TypeError("cannot read properties of undefined (reading 'fd')");
  },
};

describe("server stack", () => {
  let server: SwitchboardServer;
  let token: string;
  let sessions: Http2SessionManager;
  const logged: string[] = [];
  let h2: ReturnType<typeof createClient<typeof ChatService>>;
  let h1: ReturnType<typeof createClient<typeof ChatService>>;

  before(async () => {
    server = await serveChatService({
      config: {
        ...defaultServerConfig,
        port: 0,
        unaryTimeoutMs: 300,
        corsOrigins: ["https://app.example"],
      },
      secret,
      backend: await createBackend({ kind: "memory" }),
      service: fakeService,
      errorLog: (line) => logged.push(line),
    });
    token = await mintToken(secret, { subject: "ada", rooms: ["*"] });
    const headers = { authorization: `Bearer ${token}` };
    sessions = new Http2SessionManager(server.url);
    const auth = { interceptors: [withHeaders(headers)] };
    h2 = createClient(
      ChatService,
      createGrpcTransport({ baseUrl: server.url, sessionManager: sessions, ...auth }),
    );
    h1 = createClient(
      ChatService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", ...auth }),
    );
  });
  after(async () => {
    sessions.abort();
    await server.close();
  });

  it("answers a unary call within the cap", async () => {
    const res = await h2.send({ room: "lobby", text: "hi" });
    assert.equal(res.message?.sender?.id, "ada");
  });

  it("ends a unary call at the server cap with DeadlineExceeded and aborts the handler's signal", async () => {
    seen.sendSignalAbortedWith = undefined;
    const started = Date.now();
    for (const client of [h2, h1]) {
      await assert.rejects(client.send({ room: "lobby", text: "sleep:5000" }), (e: unknown) => {
        assert.equal(ConnectError.from(e).code, Code.DeadlineExceeded);
        return true;
      });
    }
    assert.ok(Date.now() - started < 3000, "both calls ended near the 300 ms cap");
    assert.equal(ConnectError.from(seen.sendSignalAbortedWith).code, Code.DeadlineExceeded);
  });

  it("answers DeadlineExceeded at the cap even when the handler ignores its signal", async () => {
    seen.sendFinishedAfterAbort = false;
    const started = Date.now();
    await assert.rejects(h1.send({ room: "lobby", text: "ignore-signal:800" }), (e: unknown) => {
      assert.equal(ConnectError.from(e).code, Code.DeadlineExceeded);
      return true;
    });
    assert.ok(Date.now() - started < 700);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(seen.sendFinishedAfterAbort, true, "late work sees its signal aborted");
  });

  it("honours a client deadline shorter than the cap", async () => {
    await assert.rejects(
      h2.send({ room: "lobby", text: "sleep:5000" }, { timeoutMs: 50 }),
      (e: unknown) => {
        assert.equal(ConnectError.from(e).code, Code.DeadlineExceeded);
        return true;
      },
    );
  });

  it("makes a client-streaming input throw Canceled, not end, when an HTTP/2 client cancels", async () => {
    seen.uploadInput = "";
    const ac = new AbortController();
    async function* frames() {
      yield { payload: { case: "metadata" as const, value: { name: "f" } } };
      yield { payload: { case: "chunk" as const, value: new Uint8Array(1024) } };
      await new Promise((r) => setTimeout(r, 100));
      ac.abort();
      await new Promise((r) => setTimeout(r, 200));
    }
    await assert.rejects(h2.upload(frames(), { signal: ac.signal }));
    for (let i = 0; i < 50 && seen.uploadInput === ""; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen.uploadInput, "threw Canceled");
  });

  it("does not cap streaming calls", async () => {
    const ac = new AbortController();
    const stream = h2.subscribe({}, { signal: ac.signal });
    const it = stream[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.event.case, "heartbeat");
    await new Promise((r) => setTimeout(r, 500));
    ac.abort();
    await assert.rejects(it.next(), (e: unknown) => ConnectError.from(e).code === Code.Canceled);
  });

  it("sends unknown errors as 'internal error' without their message or stack, and logs them", async () => {
    logged.length = 0;
    for (const call of [
      () => h2.send({ room: "lobby", text: "boom" }),
      () => h1.send({ room: "lobby", text: "boom" }),
      async () => {
        for await (const _ of h2.download({ fileId: "x" })) {
          // no messages expected
        }
      },
    ]) {
      await assert.rejects(call(), (e: unknown) => {
        const err = ConnectError.from(e);
        assert.equal(err.code, Code.Internal);
        assert.equal(err.rawMessage, "internal error");
        return true;
      });
    }
    assert.equal(logged.length, 3);
    assert.match(logged[0]!, /ChatService\/Send failed/);
  });

  it("rejects a call without a token as Unauthenticated 'missing bearer token'", async () => {
    const anon = createClient(
      ChatService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
    );
    await assert.rejects(anon.send({ room: "lobby", text: "hi" }), (e: unknown) => {
      const err = ConnectError.from(e);
      assert.equal(err.code, Code.Unauthenticated);
      assert.equal(err.rawMessage, "missing bearer token");
      return true;
    });
  });

  it("accepts the bearer scheme in any case", async () => {
    for (const scheme of ["bearer", "BEARER", "Bearer"]) {
      const c = createClient(
        ChatService,
        createConnectTransport({
          baseUrl: server.url,
          httpVersion: "1.1",
          interceptors: [withHeaders({ authorization: `${scheme} ${token}` })],
        }),
      );
      assert.equal((await c.send({ room: "r", text: "x" })).message?.text, "x");
    }
  });

  it("answers unknown routes with a plain 404", async () => {
    for (const [method, path] of [
      ["GET", "/"],
      ["POST", "/switchboard.chat.v1.ChatService/Nope"],
      ["GET", "/../../etc/passwd"],
    ] as const) {
      const res = await request(server.url, { method, path });
      assert.equal(res.status, 404);
      assert.equal(res.body, "not found\n");
    }
  });

  it("allows a CORS preflight from a configured origin with Connect's headers and Authorization", async () => {
    const res = await request(server.url, {
      method: "OPTIONS",
      path: "/switchboard.chat.v1.ChatService/Send",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,connect-protocol-version",
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], "https://app.example");
    const allowed = String(res.headers["access-control-allow-headers"]).toLowerCase();
    for (const h of [...corsAllowedHeaders, "authorization", "connect-timeout-ms", "x-grpc-web"]) {
      assert.ok(allowed.includes(h.toLowerCase()), `${h} allowed`);
    }
    assert.match(String(res.headers["access-control-allow-methods"]), /POST/);
  });

  it("refuses a CORS preflight from another origin", async () => {
    const res = await request(server.url, {
      method: "OPTIONS",
      path: "/switchboard.chat.v1.ChatService/Send",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  });

  it("adds CORS headers to actual responses only for allowed origins", async () => {
    const body = JSON.stringify({ room: "lobby", text: "hi" });
    const call = (origin: string) =>
      request(server.url, {
        method: "POST",
        path: "/switchboard.chat.v1.ChatService/Send",
        headers: { origin, "content-type": "application/json", authorization: `Bearer ${token}` },
        body,
      });
    const ok = await call("https://app.example");
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["access-control-allow-origin"], "https://app.example");
    assert.match(String(ok.headers["access-control-expose-headers"]), /Grpc-Status/i);
    const other = await call("https://evil.example");
    assert.equal(other.headers["access-control-allow-origin"], undefined);
  });
});

describe("server close", () => {
  it("ends streams, lets an in-flight unary call finish within the grace, then closes; twice is fine", async () => {
    const backend = await createBackend({ kind: "memory" });
    const server = await serveChatService({
      config: { ...defaultServerConfig, port: 0, shutdownGraceMs: 2000 },
      secret,
      backend,
      service: fakeService,
      errorLog: () => {},
    });
    const token = await mintToken(secret, { subject: "ada", rooms: ["*"] });
    const client = createClient(
      ChatService,
      createGrpcTransport({
        baseUrl: server.url,
        interceptors: [withHeaders({ authorization: `Bearer ${token}` })],
      }),
    );
    const stream = client.subscribe({})[Symbol.asyncIterator]();
    await stream.next();
    const slow = client.send({ room: "r", text: "sleep:300" });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await Promise.all([server.close(), server.close()]);
    assert.ok(Date.now() - started < 1500, "closed without waiting for the whole grace");
    assert.equal((await slow).message?.text, "sleep:300");
    await assert.rejects(
      stream.next(),
      (e: unknown) => ConnectError.from(e).code === Code.Unavailable,
    );
    await server.close();
    await assert.rejects(request(server.url, { method: "GET", path: "/" }));
  });
});

function withHeaders(headers: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
    return next(req);
  };
}

function request(
  base: string,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(opts.path, base),
      { method: opts.method, headers: opts.headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}
