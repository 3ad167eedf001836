/**
 * Switchboard's real server stack as a bench server process, started by
 * src/server/create-server.ts exactly as the CLI starts it, optionally with
 * the benchmark's EchoService mounted next to ChatService behind the same
 * auth gate.
 *
 *   node --import tsx bench/servers/switchboard.ts [--backend memory|sqlite|jetstream]
 *     [--data-dir DIR] [--nats URL] [--nats-prefix P] [--port N] [--echo]
 *
 * Configuration: the defaults plus the `SWITCHBOARD_*` variables (as the CLI
 * reads them, src/server/config.ts), then these flags. Differences from the
 * defaults, for benchmarking: host 127.0.0.1, port 0, log level "warn"
 * (unless SWITCHBOARD_LOG_LEVEL is set), the per-user send rate limit
 * effectively off (10^9/s, unless SWITCHBOARD_SEND_RATE_PER_SEC /
 * SWITCHBOARD_SEND_BURST are set), a random JWT secret (unless
 * SWITCHBOARD_JWT_SECRET is set). The sqlite
 * backend without `--data-dir` uses a fresh temporary directory, removed on
 * exit.
 *
 * Prints one line `{"ready":true,"port":N,"token":"<JWT>"}` (user "bench",
 * every room) when listening; SIGTERM or SIGINT closes the server and exits.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  defaultNatsConfig,
  defaultServerConfig,
  type ServerConfig,
  serverConfigFromEnv,
} from "../../src/server/config.js";
import { createSwitchboardServer, type SwitchboardServer } from "../../src/server/create-server.js";
import { mintBenchToken } from "../lib/token.js";
import { registerEchoService } from "./echo-service.js";

const { values: flags } = parseArgs({
  options: {
    backend: { type: "string", default: "sqlite" },
    "data-dir": { type: "string" },
    nats: { type: "string" },
    "nats-prefix": { type: "string" },
    port: { type: "string" },
    echo: { type: "boolean", default: false },
  },
  strict: true,
});

const backendKind = flags.backend;
if (backendKind !== "memory" && backendKind !== "sqlite" && backendKind !== "jetstream") {
  throw new Error(`--backend: must be memory, sqlite or jetstream, got "${backendKind}"`);
}
if (backendKind === "jetstream" && !flags.nats && !process.env.SWITCHBOARD_NATS_URL) {
  throw new Error("--backend jetstream needs --nats URL (or SWITCHBOARD_NATS_URL)");
}

/** Removed on exit: the sqlite data directory we created. */
const tempDir =
  backendKind === "sqlite" && !flags["data-dir"] && !process.env.SWITCHBOARD_DATA_DIR
    ? mkdtempSync(join(tmpdir(), "switchboard-bench-"))
    : undefined;

const benchDefaults: ServerConfig = {
  ...defaultServerConfig,
  host: "127.0.0.1",
  port: 0,
  backend: backendKind === "memory" ? "memory" : "sqlite",
  dataDir: tempDir ?? defaultServerConfig.dataDir,
  jwtSecret: randomBytes(32).toString("hex"),
  logLevel: "warn",
  shutdownGraceMs: 1_000,
  limits: { sendRatePerSec: 1_000_000_000, sendBurst: 1_000_000_000 },
};
const config = serverConfigFromEnv(process.env, benchDefaults);
if (flags["data-dir"]) config.dataDir = flags["data-dir"];
if (flags.port !== undefined) config.port = Number(flags.port);
if (backendKind === "jetstream") {
  config.nats = {
    ...defaultNatsConfig,
    ...config.nats,
    servers: flags.nats ? [flags.nats] : (config.nats?.servers ?? []),
    ...(flags["nats-prefix"] ? { prefix: flags["nats-prefix"] } : {}),
  };
} else if (flags.nats) {
  throw new Error("--nats: only with --backend jetstream");
}

let server: SwitchboardServer | undefined;

/** The product's own start-up (create-server.ts), with EchoService mounted under --echo. */
function start(): Promise<SwitchboardServer> {
  return createSwitchboardServer(config, flags.echo ? { routes: registerEchoService } : {});
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await server?.close();
  } finally {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    process.exit(0);
  }
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

try {
  server = await start();
} catch (e) {
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  throw e;
}
const token = await mintBenchToken(server.secret);
process.stdout.write(`${JSON.stringify({ ready: true, port: server.port, token })}\n`);
