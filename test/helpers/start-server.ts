/**
 * Starts a real Switchboard server for a test: port 0 on 127.0.0.1, a fresh
 * temp data directory under os.tmpdir() (unless one is given), the memory
 * backend by default.
 *
 * @module
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MintClaims, mintToken } from "../../src/auth/tokens.js";
import { defaultServerConfig, type ServerConfig } from "../../src/server/config.js";
import { createSwitchboardServer, type SwitchboardServer } from "../../src/server/create-server.js";
import type { ServiceLimits } from "../../src/service/limits.js";

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  /** Default "memory". */
  backend?: "memory" | "sqlite";
  /** Use (and keep) this data directory instead of a fresh temp one, e.g. to restart on the same data. */
  dataDir?: string;
  limits?: Partial<ServiceLimits>;
  /** Server cap for unary calls. Default 30000. */
  unaryTimeoutMs?: number;
  /** Shortcut for `limits.heartbeatIntervalMs`. */
  heartbeatMs?: number;
  /** Any other configuration field (corsOrigins, tlsCert/tlsKey, jwtSecret, shutdownGraceMs, …). */
  config?: Partial<ServerConfig>;
}

/** A running test server. */
export interface TestServer {
  /** Base URL, `http://127.0.0.1:PORT` (https with TLS). */
  url: string;
  port: number;
  dataDir: string;
  server: SwitchboardServer;
  /** Mints a token with the server's secret. */
  token(claims: Partial<MintClaims> & { subject: string }): Promise<string>;
  /** Closes the server; removes the temp dir unless `dataDir` was given. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a server for one test.
 *
 * @example
 * const ts = await startTestServer();
 * t.after(() => ts.close());
 * const token = await ts.token({ subject: "ada", rooms: ["*"] });
 */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "switchboard-test-")));
  const limits: Partial<ServiceLimits> = {
    ...opts.limits,
    ...(opts.heartbeatMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatMs } : {}),
  };
  let server: SwitchboardServer;
  try {
    server = await createSwitchboardServer({
      ...defaultServerConfig,
      corsOrigins: [],
      shutdownGraceMs: 1_000,
      // No per-RPC log lines in test output; internal errors (level error) still show.
      logLevel: "warn",
      ...opts.config,
      host: "127.0.0.1",
      port: 0,
      dataDir,
      backend: opts.backend ?? "memory",
      unaryTimeoutMs: opts.unaryTimeoutMs ?? opts.config?.unaryTimeoutMs ?? 30_000,
      limits: { ...opts.config?.limits, ...limits },
    });
  } catch (e) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    dataDir,
    server,
    token: (claims) => mintToken(server.secret, claims),
    close() {
      closing ??= (async () => {
        await server.close();
        if (ownDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
