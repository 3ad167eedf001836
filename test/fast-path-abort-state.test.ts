/**
 * Cancellation reaches a durable write without an `AbortSignal` per call:
 * Send and History hand the message log the call's abort state
 * (`callAbortState`, src/service/call-end.ts). On the fast path that is the
 * call context itself (no AbortController created for the call); on the
 * library path it is connect's `ctx.signal`. Over real sockets, with a
 * `grpc-timeout` of 100 ms (the client's own deadline is later), both must show the log an aborted state whose reason is
 * the DeadlineExceeded error, and answer the client DeadlineExceeded.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { mintToken } from "../src/auth/tokens.js";
import { createMemoryBackend } from "../src/backend/memory/index.js";
import type { AbortState, Backend } from "../src/backend/types.js";
import { createBearerInterceptor } from "../src/client/bearer-interceptor.js";
import { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { defaultServerConfig } from "../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../src/server/serve.js";
import { createChatService } from "../src/service/chat-service.js";

/** What the slow log saw of the state it was given. */
interface Seen {
  readonly isSignal: boolean;
  readonly abortedAtStart: boolean;
  readonly aborted: boolean;
  readonly reason: unknown;
  readonly threw: unknown;
}

/**
 * A memory backend whose append and read on room "slow" wait (polling, as
 * the state has no events) until the caller's state aborts, record it, and
 * reject as a real backend would (`throwIfAborted`).
 */
function slowBackend(seen: Seen[]): Backend {
  const backend = createMemoryBackend();
  const wait = async (state: AbortState | undefined): Promise<never> => {
    assert.ok(state, "the log got no abort state");
    const abortedAtStart = state.aborted;
    const until = Date.now() + 5000;
    while (!state.aborted && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    let threw: unknown;
    try {
      state.throwIfAborted();
    } catch (err) {
      threw = err;
    }
    seen.push({
      isSignal: state instanceof AbortSignal,
      abortedAtStart,
      aborted: state.aborted,
      reason: state.reason,
      threw,
    });
    throw threw ?? new Error("not aborted within 5 s");
  };
  const log = backend.log;
  return {
    ...backend,
    log: {
      append: (input, state) => (input.room === "slow" ? wait(state) : log.append(input, state)),
      read: (room, query, state) => (room === "slow" ? wait(state) : log.read(room, query, state)),
      info: (room, state) => log.info(room, state),
    },
  };
}

for (const fastPath of [true, false]) {
  describe(`a deadline reaches the message log as an aborted state (${fastPath ? "fast path" : "library path"})`, () => {
    const seen: Seen[] = [];
    let server: SwitchboardServer;
    let sessions: Http2SessionManager;
    let api: ReturnType<typeof createClient<typeof ChatService>>;

    before(async () => {
      const secret = new Uint8Array(randomBytes(32));
      const backend = slowBackend(seen);
      server = await serveChatService({
        config: { ...defaultServerConfig, host: "127.0.0.1", port: 0, logLevel: "warn" },
        secret,
        backend,
        service: createChatService({ backend }),
        fastPath,
        errorLog: () => {},
      });
      const token = await mintToken(secret, { subject: "abort", rooms: ["*"] });
      sessions = new Http2SessionManager(server.url);
      api = createClient(
        ChatService,
        createGrpcTransport({
          baseUrl: server.url,
          sessionManager: sessions,
          interceptors: [
            createBearerInterceptor(token),
            (next) => (req) => {
              // The server's deadline, well before the client's own (which would
              // reset the stream and race the server's timer).
              req.header.set("grpc-timeout", "100m");
              return next(req);
            },
          ],
        }),
      );
    });
    after(async () => {
      sessions.abort();
      await server.close();
    });

    const cases = [
      { name: "Send", call: () => api.send({ room: "slow", text: "late" }, { timeoutMs: 3000 }) },
      { name: "History", call: () => api.history({ room: "slow", limit: 5 }, { timeoutMs: 3000 }) },
    ];
    for (const { name, call } of cases) {
      it(`${name}: the client gets DeadlineExceeded and the log saw the deadline's reason`, async () => {
        const before = seen.length;
        const servedBefore = server.stats().fastPathCalls;
        const err = await call().then(
          () => assert.fail("the call succeeded"),
          (e: unknown) => ConnectError.from(e),
        );
        assert.equal(err.code, Code.DeadlineExceeded);
        // The log notices within its polling interval after the server's own deadline.
        const until = Date.now() + 2000;
        while (seen.length === before && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(seen.length, before + 1, "the log never saw the call abort");
        const s = seen[before]!;
        assert.equal(s.abortedAtStart, false);
        assert.equal(s.aborted, true);
        assert.ok(s.reason instanceof ConnectError, "reason is a ConnectError");
        assert.equal((s.reason as ConnectError).code, Code.DeadlineExceeded, String(s.reason));
        assert.equal(s.threw, s.reason, "throwIfAborted throws the reason");
        // Fast path: the call context itself, no AbortSignal made for the call.
        assert.equal(s.isSignal, !fastPath);
        assert.equal(server.stats().fastPathCalls - servedBefore, fastPath ? 1 : 0);
      });
    }
  });
}
