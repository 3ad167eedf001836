/**
 * Serves a ChatService implementation on one port. `createSwitchboardServer`
 * wires the real backend and service into this; tests of the server stack
 * can pass their own.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { Backend } from "../backend/types.js";
import type { ChatService } from "../gen/switchboard/chat/v1/chat_pb.js";
import { createObservability, type Observability } from "../observability/observability.js";
import type { ServerConfig } from "./config.js";
import { createCallObserver } from "./create-call-observer.js";
import { createLoggerErrorLog, type ErrorLog } from "./create-error-interceptor.js";
import { createRequestHandler } from "./create-request-handler.js";
import { assertDevHostAllowed } from "./dev-sign-in.js";
import { createDrain } from "./drain.js";
import { installLenientUtf8Decoding } from "./lenient-utf8.js";
import { createRequestHardening } from "./limits/request-hardening.js";
import { createServerStats, type ServerStats } from "./limits/server-stats.js";
import { type ConnectionLimitSettings, resolveConnectionLimits } from "./limits/settings.js";
import { listen } from "./listen.js";
import { listenMetrics, type MetricsListener, metricsPath } from "./metrics-route.js";
import { createTunnelServer } from "./tunnel/tunnel-server.js";
import type { TunnelLimits } from "./tunnel/tunnel-session.js";
import type { WebAppOptions } from "./web-app.js";

/** A running server. */
export interface SwitchboardServer {
  /** Base URL for clients, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** The backend the service runs on. */
  readonly backend: Backend;
  /** The HS256 token secret. */
  readonly secret: Uint8Array;
  /**
   * Stops accepting connections, ends streams, gives in-flight unary calls
   * `shutdownGraceMs` to finish, cuts every connection, then closes the
   * backend. Idempotent.
   */
  close(): Promise<void>;
  /**
   * What the server holds right now: connections, requests, streams,
   * fan-out subscriptions, open uploads (see limits/server-stats.ts).
   */
  stats(): ServerStats;
  /** Where Prometheus scrapes: `<url>/metrics`, or the `metricsPort` listener's. */
  readonly metricsUrl: string;
}

/** Inputs of {@link serveChatService}. */
export interface ServeOptions {
  config: Pick<
    ServerConfig,
    | "host"
    | "port"
    | "tlsCert"
    | "tlsKey"
    | "corsOrigins"
    | "unaryTimeoutMs"
    | "shutdownGraceMs"
    | keyof ConnectionLimitSettings
    | "dev"
    | "devAllowRemote"
    | "reflection"
    | "fastPath"
    | "metricsPort"
    | "logLevel"
  >;
  secret: Uint8Array;
  backend: Backend;
  service: Partial<ServiceImpl<typeof ChatService>>;
  /** Where internal errors are logged; default the structured log (stacks in dev mode). */
  errorLog?: ErrorLog;
  /**
   * Metrics, tracing and logs (closed with the server); default: new ones
   * logging at `config.logLevel`, tracing off.
   */
  observability?: Observability;
  /** Serve the browser app at `/` (web/dist unless `root` is given); default: not served. */
  webApp?: WebAppOptions;
  /**
   * More services on the same router and interceptors, after ChatService,
   * health and reflection (the interop tests mount grpc.testing.TestService).
   */
  routes?: (router: ConnectRouter) => void;
  /** Poll interval of gRPC health `Watch`; default 1000 ms. */
  healthWatchIntervalMs?: number;
  /** Limits of the WebSocket tunnel (docs/tunnel.md); defaults in tunnel/tunnel-server.ts. */
  tunnel?: Partial<TunnelLimits>;
  /** Serve plain calls on the fast path (docs/fast-path.md); default true (also `config.fastPath`). */
  fastPath?: boolean;
}

/**
 * Listens and serves `service`. The backend is only closed by `close()`.
 *
 * @example
 * const server = await serveChatService({ config, secret, backend, service });
 */
export async function serveChatService(opts: ServeOptions): Promise<SwitchboardServer> {
  const { config } = opts;
  assertDevHostAllowed(config);
  installLenientUtf8Decoding();
  const tls =
    config.tlsCert !== undefined && config.tlsKey !== undefined
      ? { cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey) }
      : undefined;
  const drain = createDrain();
  const limits = resolveConnectionLimits(config);
  const { hardening, streams } = createRequestHardening(limits);
  const tunnelHandlers: UniversalHandler[] = [];
  const observability =
    opts.observability ?? createObservability({ logLevel: config.logLevel ?? "info" });
  const ownMetricsPort = config.metricsPort !== undefined;
  const fastPathStats = { served: 0, fromStreams: 0 };
  const handler = createRequestHandler({
    fastPathStats,
    observer: createCallObserver(observability),
    ...(ownMetricsPort ? {} : { metrics: observability.metrics }),
    onRouter: (router) => tunnelHandlers.push(...router.handlers),
    hardening,
    service: opts.service,
    secret: opts.secret,
    corsOrigins: config.corsOrigins,
    unaryTimeoutMs: config.unaryTimeoutMs,
    drain,
    errorLog: opts.errorLog ?? createLoggerErrorLog(observability.logger, config.dev),
    health: () =>
      drain.draining ? { ready: false, reason: "shutting down" } : opts.backend.health(),
    ...(opts.webApp ? { webApp: opts.webApp } : {}),
    reflection: config.reflection !== false,
    ...(opts.routes ? { routes: opts.routes } : {}),
    ...(opts.fastPath === false || config.fastPath === false ? { fastPath: false } : {}),
    ...(opts.healthWatchIntervalMs ? { healthWatchIntervalMs: opts.healthWatchIntervalMs } : {}),
    ...(config.dev ? { devSignIn: { allowRemote: config.devAllowRemote === true } } : {}),
  });
  // The WebSocket tunnel serves the same router handlers (docs/tunnel.md).
  const tunnel = createTunnelServer({
    handlers: tunnelHandlers,
    corsOrigins: config.corsOrigins,
    draining: () => drain.draining,
    trackCall: drain.trackCall,
    ...(opts.tunnel ? { limits: opts.tunnel } : {}),
  });
  const listener = await listen({
    host: config.host,
    port: config.port,
    handler,
    ...(handler.takeH2Stream ? { takeH2Stream: handler.takeH2Stream } : {}),
    onUpgrade: tunnel.handleUpgrade,
    ...(tls ? { tls } : {}),
    maxConcurrentStreams: limits.maxStreamsPerConnection,
    keepalive: {
      intervalMs: limits.keepaliveIntervalMs,
      timeoutMs: limits.keepaliveTimeoutMs,
      idleTimeoutMs: limits.idleTimeoutMs,
    },
  });
  const url = `${tls ? "https" : "http"}://${urlHost(config.host)}:${listener.port}`;
  let metricsListener: MetricsListener | undefined;
  if (config.metricsPort !== undefined) {
    try {
      metricsListener = await listenMetrics({
        host: config.host,
        port: config.metricsPort,
        metrics: observability.metrics,
      });
    } catch (e) {
      await listener.close();
      await observability.close();
      throw e;
    }
  }
  const metricsUrl = metricsListener
    ? `http://${urlHost(config.host)}:${metricsListener.port}${metricsPath}`
    : `${url}${metricsPath}`;
  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    listener.stopAccepting();
    await drain.drain(config.shutdownGraceMs);
    await tunnel.close();
    await listener.close();
    await metricsListener?.close();
    await opts.backend.close();
    await observability.close();
  }
  return {
    url,
    port: listener.port,
    backend: opts.backend,
    secret: opts.secret,
    stats: createServerStats({
      listener,
      drain,
      streams,
      backend: opts.backend,
      fastPath: fastPathStats,
    }),
    metricsUrl,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
