/**
 * `switchboard serve`: runs the server until SIGINT/SIGTERM.
 *
 * @module
 */
import { resolve } from "node:path";
import { mintToken } from "../../auth/tokens.js";
import {
  type ServerConfig,
  serverConfigFromEnv,
  validateServerConfig,
} from "../../server/config.js";
import { createSwitchboardServer } from "../../server/create-server.js";
import { expectPositionals, globalHelp, parseCommand, parseInteger } from "../args.js";
import { type Command, exitCodes, UsageError } from "../context.js";

const options = {
  host: { type: "string" },
  port: { type: "string" },
  "data-dir": { type: "string" },
  backend: { type: "string" },
  "jwt-secret": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "cors-origin": { type: "string", multiple: true },
  "heartbeat-ms": { type: "string" },
  "unary-timeout-ms": { type: "string" },
  "shutdown-grace-ms": { type: "string" },
  "max-file-bytes": { type: "string" },
  "max-text-bytes": { type: "string" },
  "max-chunk-bytes": { type: "string" },
  "max-queue-bytes": { type: "string" },
  dev: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parseCommand<typeof options>>["values"];

/** Applies the flags over an env-derived config (flags win). */
function applyFlags(config: ServerConfig, v: Values): ServerConfig {
  const out: ServerConfig = { ...config, limits: { ...config.limits } };
  if (v.host !== undefined) out.host = v.host;
  const port = parseInteger("--port", v.port);
  if (port !== undefined) {
    if (port > 65_535) throw new UsageError(`--port: must be 0-65535, got "${v.port}"`);
    out.port = port;
  }
  if (v["data-dir"] !== undefined) out.dataDir = v["data-dir"];
  if (v.backend !== undefined) {
    if (v.backend !== "sqlite" && v.backend !== "memory") {
      throw new UsageError(`--backend: must be sqlite or memory, got "${v.backend}"`);
    }
    out.backend = v.backend;
  }
  if (v["jwt-secret"] !== undefined) out.jwtSecret = v["jwt-secret"];
  if (v["tls-cert"] !== undefined) out.tlsCert = v["tls-cert"];
  if (v["tls-key"] !== undefined) out.tlsKey = v["tls-key"];
  if (v["cors-origin"] !== undefined) out.corsOrigins = [...v["cors-origin"]];
  const unary = parseInteger("--unary-timeout-ms", v["unary-timeout-ms"], 1);
  if (unary !== undefined) out.unaryTimeoutMs = unary;
  const grace = parseInteger("--shutdown-grace-ms", v["shutdown-grace-ms"]);
  if (grace !== undefined) out.shutdownGraceMs = grace;
  if (v.dev) out.dev = true;
  const limits: [keyof ServerConfig["limits"], string][] = [
    ["heartbeatIntervalMs", "heartbeat-ms"],
    ["maxFileBytes", "max-file-bytes"],
    ["maxTextBytes", "max-text-bytes"],
    ["maxChunkBytes", "max-chunk-bytes"],
    ["maxQueueBytes", "max-queue-bytes"],
  ];
  for (const [field, flag] of limits) {
    const value = parseInteger(`--${flag}`, v[flag as keyof Values] as string | undefined, 1);
    if (value !== undefined) out.limits = { ...out.limits, [field]: value };
  }
  return out;
}

/** `switchboard serve`. */
export const serveCommand: Command = {
  name: "serve",
  summary: "run the server (prints its URL and a ready dev token)",
  help: `Usage: switchboard serve [flags]

Runs the Switchboard server: gRPC, gRPC-Web and Connect on one port.
Settings come from SWITCHBOARD_* environment variables; flags override them.
Stops cleanly on SIGINT/SIGTERM.

Flags:
  --host <addr>             interface (SWITCHBOARD_HOST, default 127.0.0.1)
  --port <n>                TCP port, 0 = any free port (SWITCHBOARD_PORT, default 8080)
  --data-dir <dir>          data directory (SWITCHBOARD_DATA_DIR, default ./data)
  --backend <kind>          sqlite | memory (SWITCHBOARD_BACKEND, default sqlite)
  --jwt-secret <s>          HS256 secret, >= 32 bytes (SWITCHBOARD_JWT_SECRET;
                            default: generated into <data-dir>/jwt-secret)
  --tls-cert <file>         PEM certificate chain (with --tls-key: HTTPS only)
  --tls-key <file>          PEM private key
  --cors-origin <origin>    allowed browser origin, repeatable (SWITCHBOARD_CORS_ORIGINS)
  --heartbeat-ms <n>        idle time before a stream heartbeat (default 15000)
  --unary-timeout-ms <n>    server cap for Send/History (default 30000)
  --shutdown-grace-ms <n>   grace for in-flight calls on shutdown (default 5000)
  --max-file-bytes <n>      largest upload (default 1 GiB)
  --max-text-bytes <n>      largest message text (default 16 KiB)
  --max-chunk-bytes <n>     largest upload chunk (default 1 MiB)
  --max-queue-bytes <n>     per-subscriber queue before "slow consumer" (default 8 MiB)
  --dev                     development mode (log error causes)

${globalHelp}`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, options);
    expectPositionals(positionals, []);
    const config = applyFlags(serverConfigFromEnv(ctx.env), values);
    validateServerConfig(config);
    const server = await createSwitchboardServer(config);
    try {
      const token = await mintToken(server.secret, {
        subject: "dev",
        name: "Developer",
        rooms: ["*"],
        ttlSeconds: 86_400,
      });
      const storage =
        config.backend === "sqlite"
          ? `sqlite, data dir ${resolve(config.dataDir)}`
          : "memory (not durable)";
      ctx.stdout.write(
        [
          `switchboard listening on ${server.url} (gRPC, gRPC-Web, Connect)`,
          `backend: ${storage}`,
          `dev token (subject "dev", all rooms, valid 24h):`,
          `  ${token}`,
          "try:",
          `  export SWITCHBOARD_URL=${server.url} SWITCHBOARD_TOKEN=${token}`,
          `  switchboard tail general &  switchboard send general "hello"`,
          "",
        ].join("\n"),
      );
    } catch (err) {
      await server.close();
      throw err;
    }
    await new Promise<void>((done) => {
      if (ctx.signal.aborted) done();
      ctx.signal.addEventListener("abort", () => done(), { once: true });
    });
    ctx.stderr.write("shutting down\n");
    await server.close();
    return exitCodes.ok;
  },
};
