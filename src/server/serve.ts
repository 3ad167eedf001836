/**
 * Serves a ChatService implementation on one port. `createSwitchboardServer`
 * wires the real backend and service into this; tests of the server stack
 * can pass their own.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Backend } from "../backend/types.js";
import type { ChatService } from "../gen/switchboard/chat/v1/chat_pb.js";
import type { ServerConfig } from "./config.js";
import { createStderrErrorLog, type ErrorLog } from "./create-error-interceptor.js";
import { createRequestHandler } from "./create-request-handler.js";
import { createDrain } from "./drain.js";
import { installLenientUtf8Decoding } from "./lenient-utf8.js";
import { listen } from "./listen.js";

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
    | "dev"
  >;
  secret: Uint8Array;
  backend: Backend;
  service: Partial<ServiceImpl<typeof ChatService>>;
  /** Where internal errors are logged; default stderr (with stacks in dev mode). */
  errorLog?: ErrorLog;
}

/**
 * Listens and serves `service`. The backend is only closed by `close()`.
 *
 * @example
 * const server = await serveChatService({ config, secret, backend, service });
 */
export async function serveChatService(opts: ServeOptions): Promise<SwitchboardServer> {
  const { config } = opts;
  installLenientUtf8Decoding();
  const tls =
    config.tlsCert !== undefined && config.tlsKey !== undefined
      ? { cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey) }
      : undefined;
  const drain = createDrain();
  const handler = createRequestHandler({
    service: opts.service,
    secret: opts.secret,
    corsOrigins: config.corsOrigins,
    unaryTimeoutMs: config.unaryTimeoutMs,
    drain,
    errorLog: opts.errorLog ?? createStderrErrorLog(config.dev),
  });
  const listener = await listen({
    host: config.host,
    port: config.port,
    handler,
    ...(tls ? { tls } : {}),
  });
  const url = `${tls ? "https" : "http"}://${urlHost(config.host)}:${listener.port}`;
  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    listener.stopAccepting();
    await drain.drain(config.shutdownGraceMs);
    await listener.close();
    await opts.backend.close();
  }
  return {
    url,
    port: listener.port,
    backend: opts.backend,
    secret: opts.secret,
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
