/**
 * `grpc.testing.TestService`, the server side of gRPC's interop test cases
 * (grpc/grpc doc/interop-test-descriptions.md, "Server" features), mounted
 * on Switchboard's own server stack by {@link registerInteropService}: the
 * same router, interceptors, auth gate, drain and listener as ChatService.
 *
 * Implemented features: EmptyCall, UnaryCall, StreamingInputCall,
 * StreamingOutputCall, FullDuplexCall, HalfDuplexCall, CompressedRequest
 * (`expect_compressed`), CompressedResponse (`response_compressed`,
 * `ResponseParameters.compressed`), Echo Status, Echo Metadata and
 * `interval_us`. UnimplementedCall (and CacheableUnaryCall, which needs a
 * caching proxy) are left out, so they answer `unimplemented`.
 *
 * Per-message compression. connect-es decides once per call which
 * compression a response uses, and compresses every message of at least
 * `compressMinBytes`; handlers see neither the flags of request messages
 * nor can they choose per message. The interop features need both, so for
 * this service only:
 * - requests: the service's `gzip` codec records, in the call's state,
 *   that it decompressed a message — the handler reads (and resets) that
 *   flag after each message it receives (connect reads requests one at a
 *   time, on demand, so the flag belongs to the message just received);
 * - responses: `compressMinBytes` is an object whose `valueOf` answers 0
 *   (compress) or `Number.MAX_SAFE_INTEGER` (don't) from the call's state,
 *   which the handler sets before each message it yields (connect compares
 *   `byteLength >= compressMinBytes` as each message is written).
 * The call's state lives in an AsyncLocalStorage entered around every step
 * of the call (the handler invocation and each pull of the response body).
 * test/interop-wire.test.ts checks the resulting flags on the wire.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import type {
  Compression,
  UniversalHandler,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { compressionGzip } from "@connectrpc/connect-node";
import {
  type EchoStatus,
  type ResponseParameters,
  StreamingOutputCallResponseSchema,
} from "./gen/grpc/testing/messages_pb.js";
import { TestService } from "./gen/grpc/testing/test_pb.js";

/** Per-call compression state (see the module comment). */
interface CallState {
  /** The request message just received arrived compressed. */
  requestCompressed: boolean;
  /** Compress the next response message. */
  compressResponse: boolean;
}

/** The metadata keys of the Echo Metadata feature. */
export const echoInitialKey = "x-grpc-test-echo-initial";
export const echoTrailingKey = "x-grpc-test-echo-trailing-bin";

/**
 * Registers TestService on `router` (pass as `routes` to serveChatService).
 *
 * @example
 * await serveChatService({ config, secret, backend, service, routes: registerInteropService });
 */
export function registerInteropService(router: ConnectRouter): void {
  const calls = new AsyncLocalStorage<CallState>();
  const trackingGzip: Compression = {
    name: compressionGzip.name,
    compress: (bytes) => compressionGzip.compress(bytes),
    decompress(bytes, readMaxBytes) {
      const state = calls.getStore();
      if (state) state.requestCompressed = true;
      return compressionGzip.decompress(bytes, readMaxBytes);
    },
  };
  const perMessage = {
    valueOf: () => (calls.getStore()?.compressResponse ? 0 : Number.MAX_SAFE_INTEGER),
  } as unknown as number;
  const first = router.handlers.length;
  router.service(
    TestService,
    createTestService(() => calls.getStore()),
    {
      acceptCompression: [trackingGzip],
      compressMinBytes: perMessage,
    },
  );
  const handlers = router.handlers as UniversalHandler[];
  for (let i = first; i < handlers.length; i++) handlers[i] = withCallState(handlers[i]!, calls);
}

/** Runs every step of a call (invocation, each body pull) inside a fresh call state. */
function withCallState(h: UniversalHandler, calls: AsyncLocalStorage<CallState>): UniversalHandler {
  const run = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const state: CallState = { requestCompressed: false, compressResponse: false };
    const res = await calls.run(state, () => h(req));
    const body = res.body;
    if (body === undefined || body instanceof Uint8Array) return res;
    return {
      ...res,
      body: {
        [Symbol.asyncIterator]() {
          const it = body[Symbol.asyncIterator]();
          return {
            next: () => calls.run(state, () => it.next()),
            return: (v?: unknown) =>
              calls.run(state, () => it.return?.(v) ?? Promise.resolve({ done: true, value: v })),
            throw: (e?: unknown) => calls.run(state, () => it.throw?.(e) ?? Promise.reject(e)),
          };
        },
      },
    };
  };
  return Object.assign(run, h);
}

/** The TestService handlers; `state()` is the current call's compression state. */
function createTestService(
  state: () => CallState | undefined,
): Partial<ServiceImpl<typeof TestService>> {
  /** Fails with InvalidArgument if the message just received should have been compressed. */
  const checkCompressed = (expect: boolean | undefined) => {
    const s = state();
    const compressed = s?.requestCompressed === true;
    if (s) s.requestCompressed = false;
    if (expect === true && !compressed) {
      throw new ConnectError(
        "expect_compressed: the request was not compressed",
        Code.InvalidArgument,
      );
    }
  };
  const setCompressResponse = (compress: boolean | undefined) => {
    const s = state();
    if (s) s.compressResponse = compress === true;
  };
  const respond = async (p: ResponseParameters, ctx: HandlerContext) => {
    if (p.intervalUs > 0) await sleep(p.intervalUs / 1000, ctx.signal);
    setCompressResponse(p.compressed?.value);
    return create(StreamingOutputCallResponseSchema, {
      payload: { body: new Uint8Array(p.size) },
    });
  };
  return {
    emptyCall: (_req, ctx) => {
      echoMetadata(ctx);
      return {};
    },
    unaryCall(req, ctx) {
      echoMetadata(ctx);
      checkCompressed(req.expectCompressed?.value);
      echoStatus(req.responseStatus);
      setCompressResponse(req.responseCompressed?.value);
      return { payload: { type: req.responseType, body: new Uint8Array(req.responseSize) } };
    },
    async *streamingOutputCall(req, ctx) {
      echoMetadata(ctx);
      for (const p of req.responseParameters) yield await respond(p, ctx);
      echoStatus(req.responseStatus);
    },
    async streamingInputCall(reqs, ctx) {
      echoMetadata(ctx);
      let size = 0;
      for await (const req of reqs) {
        checkCompressed(req.expectCompressed?.value);
        size += req.payload?.body.byteLength ?? 0;
      }
      return { aggregatedPayloadSize: size };
    },
    async *fullDuplexCall(reqs, ctx) {
      echoMetadata(ctx);
      for await (const req of reqs) {
        echoStatus(req.responseStatus);
        for (const p of req.responseParameters) yield await respond(p, ctx);
      }
    },
    async *halfDuplexCall(reqs, ctx) {
      echoMetadata(ctx);
      const all = [];
      for await (const req of reqs) all.push(req);
      for (const req of all) {
        echoStatus(req.responseStatus);
        for (const p of req.responseParameters) yield await respond(p, ctx);
      }
    },
  };
}

/** Echo Metadata: the initial key back as a header, the trailing one as a trailer. */
function echoMetadata(ctx: HandlerContext): void {
  const initial = ctx.requestHeader.get(echoInitialKey);
  if (initial !== null) ctx.responseHeader.set(echoInitialKey, initial);
  const trailing = ctx.requestHeader.get(echoTrailingKey);
  if (trailing !== null) ctx.responseTrailer.set(echoTrailingKey, trailing);
}

/** Echo Status: a non-OK `response_status` ends the call with that code and message. */
function echoStatus(status: EchoStatus | undefined): void {
  if (status === undefined || status.code === 0) return;
  throw new ConnectError(status.message, status.code as Code);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
