/**
 * The fast path leaves an interceptor out of the chains of method kinds it
 * is not tagged for (src/server/interceptor-kinds.ts). That is only right if
 * the tag is exact: for every other kind the interceptor must hand the
 * request to `next` unchanged and return `next`'s response unchanged. This
 * checks every tagged interceptor of the server against that, for every
 * kind outside its tag; the behaviour of each one on its own kinds is tested
 * over real sockets (hardening-*, drain-sigterm, observability-metrics).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createContextValues, type Interceptor } from "@connectrpc/connect";
import { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { createLogger } from "../src/observability/logger.js";
import { createMetrics } from "../src/observability/metrics.js";
import { createTracing } from "../src/observability/tracing.js";
import { createCallObserver } from "../src/server/create-call-observer.js";
import { createInputCancelInterceptor } from "../src/server/create-input-cancel-interceptor.js";
import { createUnaryTimeoutInterceptor } from "../src/server/create-unary-timeout-interceptor.js";
import { createDrain } from "../src/server/drain.js";
import { actsOn, type MethodKind } from "../src/server/interceptor-kinds.js";
import { createStreamAgeInterceptor } from "../src/server/limits/stream-age.js";
import { createStreamLimiter } from "../src/server/limits/stream-limiter.js";
import { kUser } from "../src/service/context-values.js";

const kinds: MethodKind[] = ["unary", "server_streaming", "client_streaming", "bidi_streaming"];
const methodOf = (kind: MethodKind) => {
  const m = ChatService.methods.find((x) => x.methodKind === kind);
  assert.ok(m, `ChatService has a ${kind} method`);
  return m;
};

const tagged: [string, Interceptor, MethodKind[]][] = [
  [
    "observer",
    createCallObserver({
      metrics: createMetrics(),
      tracing: createTracing({}),
      logger: createLogger({ level: "error" }),
    }).interceptor,
    ["server_streaming", "client_streaming", "bidi_streaming"],
  ],
  ["drain", createDrain().interceptor, ["server_streaming", "client_streaming", "bidi_streaming"]],
  [
    "stream limiter",
    createStreamLimiter(1).interceptor,
    ["server_streaming", "client_streaming", "bidi_streaming"],
  ],
  [
    "stream age",
    createStreamAgeInterceptor({ maxAgeMs: 1, jitter: 0 }),
    ["server_streaming", "bidi_streaming"],
  ],
  ["input cancel", createInputCancelInterceptor(), ["client_streaming", "bidi_streaming"]],
  ["unary timeout", createUnaryTimeoutInterceptor(1), ["unary"]],
];

describe("method-kind tags of the server's interceptors", () => {
  for (const [name, interceptor, acting] of tagged) {
    it(`${name}: tagged for ${acting.join(", ")}, a pass-through for the other kinds`, async () => {
      for (const kind of kinds) {
        assert.equal(actsOn(interceptor, kind), acting.includes(kind), `${name} ${kind}`);
        if (acting.includes(kind)) continue;
        const method = methodOf(kind);
        const streamIn = kind === "client_streaming" || kind === "bidi_streaming";
        const streamOut = kind === "server_streaming" || kind === "bidi_streaming";
        const req = {
          stream: streamIn,
          service: ChatService,
          method,
          requestMethod: "POST",
          url: `http://x/${ChatService.typeName}/${method.name}`,
          header: new Headers(),
          contextValues: createContextValues().set(kUser, {
            id: "u",
            name: "U",
            rooms: ["*"],
          } as never),
          signal: new AbortController().signal,
          message: {},
        };
        const res = {
          stream: streamOut,
          service: ChatService,
          method,
          header: new Headers(),
          trailer: new Headers(),
          message: {},
        };
        let seen: unknown;
        const out = await interceptor(async (r) => {
          seen = r;
          return res as never;
        })(req as never);
        assert.equal(seen, req, `${name} ${kind}: next gets the request as it is`);
        assert.equal(out, res, `${name} ${kind}: the response comes back as it is`);
      }
    });
  }
});
