/**
 * The HTTP request handler: CORS, then Connect's node adapter serving
 * ChatService over gRPC, gRPC-Web and Connect, with gzip, authentication,
 * the unary cap, error hygiene and drain tracking. The same router serves
 * the standard gRPC endpoints — health (health/) and server reflection
 * (reflection/), both without a token — and any extra services passed in
 * `routes`. Unknown routes get a plain 404.
 *
 * @module
 */

import type { ConnectRouter, ConnectRouterOptions, ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { BackendHealth } from "../backend/types.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ChatService } from "../gen/switchboard/chat/v1/chat_pb.js";
import type { Metrics } from "../observability/metrics.js";
import { createDecodeErrorGate } from "../service/request-gate.js";
import { createCors } from "./cors.js";
import { countWireBytes, createWireTally, type WireBytes } from "./count-wire-bytes.js";
import { createAuthGate } from "./create-auth-interceptor.js";
import { type CallObserver, kWireBytes, type RequestGate } from "./create-call-observer.js";
import { createErrorInterceptor, type ErrorLog } from "./create-error-interceptor.js";
import { createInputCancelInterceptor } from "./create-input-cancel-interceptor.js";
import { createUnaryTimeoutInterceptor } from "./create-unary-timeout-interceptor.js";
import { createDevSignInHandler } from "./dev-sign-in.js";
import type { Drain } from "./drain.js";
import { createFastPath, type FastPathStats } from "./fast/fast-path.js";
import type { FastRequest } from "./fast/h2-stream-response.js";
import { recordingRouter } from "./fast/method-table.js";
import { resolveFastPathSettings } from "./fast/settings.js";
import { gzipCompression } from "./gzip-compression.js";
import { createHealthService } from "./health/health-service.js";
import { serveHealthRoute } from "./health-route.js";
import type { RequestHardening } from "./limits/request-hardening.js";
import { transportContextValues } from "./limits/transport-abort.js";
import type { NodeHandler } from "./listen.js";
import { serveMetricsRoute } from "./metrics-route.js";
import { reflectionServiceNames, registerReflection } from "./reflection/register-reflection.js";
import type { H2StreamTaker } from "./take-h2-streams.js";
import { createWebAppHandler, type WebAppOptions } from "./web-app.js";

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
  /** Request size limit and the limit/stream-age interceptors (see limits/request-hardening.ts). */
  hardening?: RequestHardening;
  /** Backend readiness for `GET /healthz` (see health-route.ts); without it the route is 404. */
  health?: () => BackendHealth;
  /** Serve the browser app at `/` (see web-app.ts); without it those paths are 404. */
  webApp?: WebAppOptions;
  /** The dev-only token endpoint (see dev-sign-in.ts); set only in dev mode. */
  devSignIn?: { allowRemote: boolean };
  /** Serve gRPC server reflection (see reflection/); default true. */
  reflection?: boolean;
  /** Poll interval of gRPC health `Watch` (see health/health-service.ts); default 1000 ms. */
  healthWatchIntervalMs?: number;
  /**
   * Registers more services on the same router, after the standard ones;
   * they get the same interceptors, auth gate and drain (tests mount
   * grpc.testing.TestService here). Per-service options may override
   * handler options such as `compressMinBytes`.
   */
  routes?: (router: ConnectRouter) => void;
  /**
   * Receives the router once every service is registered: the WebSocket
   * tunnel (tunnel/) serves `router.handlers`, the same handlers, auth gate
   * and interceptors as HTTP.
   */
  onRouter?: (router: ConnectRouter) => void;
  /** Observes every call: span, metrics, log line (see create-call-observer.ts). */
  observer?: CallObserver;
  /** Serve `GET /metrics` on this port (see metrics-route.ts); without it the path is 404. */
  metrics?: Metrics;
  /**
   * Serve plain unary calls on the fast path (see fast/fast-path.ts and
   * docs/fast-path.md); default true. False: connect-node serves everything.
   */
  fastPath?: boolean;
  /** Counters of the fast path, read by the server's stats. */
  fastPathStats?: FastPathStats;
}

/**
 * Services callable without a token: gRPC health (probes carry no
 * credentials) and server reflection (it describes only the public schema).
 */
export const anonymousServiceNames: readonly string[] = Object.freeze([
  Health.typeName,
  ...reflectionServiceNames,
]);

/**
 * Creates the handler for every HTTP request of the server.
 *
 * @example
 * const handler = createRequestHandler({ service, secret, corsOrigins: [], unaryTimeoutMs: 30_000, drain, errorLog });
 */
export function createRequestHandler(opts: RequestHandlerOptions): RequestHandler {
  const applyCors = createCors(opts.corsOrigins);
  const serveDevSignIn = opts.devSignIn
    ? createDevSignInHandler({ secret: opts.secret, allowRemote: opts.devSignIn.allowRemote })
    : undefined;
  const serveWebApp = opts.webApp ? createWebAppHandler(opts.webApp) : undefined;
  // Wire bytes of each request, for the observer's log line (see count-wire-bytes.ts).
  const wireBytes = new WeakMap<object, WireBytes>();
  const observeGate = (gate: RequestGate) => (opts.observer ? opts.observer.gate(gate) : gate);
  const routerOptions: ConnectRouterOptions = {
    acceptCompression: [gzipCompression],
    compressMinBytes,
    ...(opts.hardening ? { readMaxBytes: opts.hardening.readMaxBytes } : {}),
    requestGate: observeGate(
      createDecodeErrorGate(createAuthGate(opts.secret, anonymousServiceNames)),
    ),
    // First is outermost: errors are converted after the cap and drain acted.
    interceptors: [
      ...(opts.observer ? [opts.observer.interceptor] : []),
      createErrorInterceptor(opts.errorLog),
      ...(opts.hardening?.interceptors ?? []),
      opts.drain.interceptor,
      createInputCancelInterceptor(),
      createUnaryTimeoutInterceptor(opts.unaryTimeoutMs),
    ],
    shutdownSignal: opts.drain.shutdownSignal,
  };
  // The fast path hands over the byte counts it started; the library path finds them by request.
  const contextValues = (req: FastRequest, tally?: WireBytes) => {
    const values = transportContextValues(req);
    const wire = tally ?? wireBytes.get(req);
    return wire ? values.set(kWireBytes, wire) : values;
  };
  const fast =
    opts.fastPath === false
      ? undefined
      : createFastPath({
          settings: resolveFastPathSettings(routerOptions),
          contextValues,
          ...(opts.fastPathStats ? { stats: opts.fastPathStats } : {}),
          ...(opts.observer ? { tally: (_req, res) => createWireTally(res) } : {}),
        });
  const adapter = connectNodeAdapter({
    ...routerOptions,
    routes: (libraryRouter) => {
      // Services registered here are served by the fast path too (when on).
      const router = fast ? recordingRouter(libraryRouter, fast.table) : libraryRouter;
      router.service(ChatService, opts.service);
      // gRPC health: the backend's readiness, NOT_SERVING while draining.
      const readiness = () =>
        opts.drain.draining
          ? { ready: false, reason: "shutting down" }
          : (opts.health?.() ?? { ready: true, reason: "" });
      router.service(
        Health,
        createHealthService({
          readiness,
          ...(opts.healthWatchIntervalMs ? { watchIntervalMs: opts.healthWatchIntervalMs } : {}),
        }),
      );
      if (opts.reflection !== false) registerReflection(router);
      opts.routes?.(router);
      fast?.setLibraryHandlers(libraryRouter.handlers);
      opts.onRouter?.(libraryRouter);
    },
    contextValues: (req) => contextValues(req),
    fallback: (req, res) => {
      if (opts.health && serveHealthRoute(req, res, opts.health)) return;
      const notFound = () => {
        res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("not found\n");
      };
      if (!serveDevSignIn && !serveWebApp) return notFound();
      const serveBrowser = async () =>
        (await serveDevSignIn?.(req, res)) || (await serveWebApp?.(req, res));
      void serveBrowser().then(
        (handled) => handled || notFound(),
        () => {
          if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
          res.end("internal error\n");
        },
      );
    },
  });
  const handler: NodeHandler = (req, res) => {
    req.on("error", ignore);
    res.on("error", ignore);
    opts.drain.track(res);
    if (opts.drain.draining && "shouldKeepAlive" in res) res.shouldKeepAlive = false;
    if (opts.metrics && serveMetricsRoute(req, res, opts.metrics)) return;
    if (applyCors(req, res)) return;
    if (fast?.handle(req, res)) return;
    if (opts.observer) wireBytes.set(req, countWireBytes(req, res));
    adapter(req, res);
  };
  // Fast-path requests over HTTP/2, before node wraps their streams (errors
  // on the stream are ignored by the listener; CORS requests are not taken).
  const takeH2Stream: H2StreamTaker | undefined =
    fast === undefined
      ? undefined
      : (stream, headers, handOver) => {
          if (opts.drain.draining) return false;
          if (!fast.handleStream(stream, headers, handOver)) return false;
          opts.drain.track(stream);
          return true;
        };
  return Object.assign(handler, { takeH2Stream });
}

/** The server's request handler, and the HTTP/2 streams it takes before node wraps them. */
export type RequestHandler = NodeHandler & {
  /** For listen()'s `takeH2Stream`; undefined with the fast path off. */
  readonly takeH2Stream: H2StreamTaker | undefined;
};

/** The request's and response's "error" listener: errors end the exchange, nothing to report. */
function ignore(): void {}
