/**
 * The HTTP request handler: CORS, then Connect's node adapter serving
 * ChatService over gRPC, gRPC-Web and Connect, with gzip, authentication,
 * the unary cap, error hygiene and drain tracking. Unknown routes get a
 * plain 404.
 *
 * @module
 */

import type { ServiceImpl } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { ChatService } from "../gen/switchboard/chat/v1/chat_pb.js";
import { createDecodeErrorGate } from "../service/request-gate.js";
import { createCors } from "./cors.js";
import { createAuthGate } from "./create-auth-interceptor.js";
import { createErrorInterceptor, type ErrorLog } from "./create-error-interceptor.js";
import { createInputCancelInterceptor } from "./create-input-cancel-interceptor.js";
import { createUnaryTimeoutInterceptor } from "./create-unary-timeout-interceptor.js";
import type { Drain } from "./drain.js";
import type { NodeHandler } from "./listen.js";

/** Responses smaller than this are never compressed. */
export const compressMinBytes = 1024;

/** Inputs of {@link createRequestHandler}. */
export interface RequestHandlerOptions {
  service: Partial<ServiceImpl<typeof ChatService>>;
  secret: Uint8Array;
  corsOrigins: readonly string[];
  unaryTimeoutMs: number;
  drain: Drain;
  errorLog: ErrorLog;
}

/**
 * Creates the handler for every HTTP request of the server.
 *
 * @example
 * const handler = createRequestHandler({ service, secret, corsOrigins: [], unaryTimeoutMs: 30_000, drain, errorLog });
 */
export function createRequestHandler(opts: RequestHandlerOptions): NodeHandler {
  const applyCors = createCors(opts.corsOrigins);
  const adapter = connectNodeAdapter({
    routes: (router) => router.service(ChatService, opts.service),
    acceptCompression: [compressionGzip],
    compressMinBytes,
    requestGate: createDecodeErrorGate(createAuthGate(opts.secret)),
    // First is outermost: errors are converted after the cap and drain acted.
    interceptors: [
      createErrorInterceptor(opts.errorLog),
      opts.drain.interceptor,
      createInputCancelInterceptor(),
      createUnaryTimeoutInterceptor(opts.unaryTimeoutMs),
    ],
    shutdownSignal: opts.drain.shutdownSignal,
    fallback: (_req, res) => {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("not found\n");
    },
  });
  return (req, res) => {
    req.on("error", () => {});
    res.on("error", () => {});
    opts.drain.track(req, res);
    if (opts.drain.draining && "shouldKeepAlive" in res) res.shouldKeepAlive = false;
    if (applyCors(req, res)) return;
    adapter(req, res);
  };
}
