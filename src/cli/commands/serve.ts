/**
 * `switchboard serve`: runs the server until SIGINT/SIGTERM.
 *
 * @module
 */
import { resolve } from "node:path";
import { mintToken } from "../../auth/tokens.js";
import { isLogLevel, logLevels } from "../../observability/log-levels.js";
import {
  ConfigError,
  defaultNatsConfig,
  parseDurationMs,
  type ServerConfig,
  serverConfigFromEnv,
  validateServerConfig,
} from "../../server/config.js";
import { createSwitchboardServer } from "../../server/create-server.js";
import type { ConnectionLimitSettings } from "../../server/limits/settings.js";
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
  "send-rate-per-sec": { type: "string" },
  "send-burst": { type: "string" },
  "max-message-bytes": { type: "string" },
  "max-streams-per-connection": { type: "string" },
  "max-streams-per-user": { type: "string" },
  "keepalive-ms": { type: "string" },
  "keepalive-timeout-ms": { type: "string" },
  "idle-timeout-ms": { type: "string" },
  "max-stream-age-ms": { type: "string" },
  dev: { type: "boolean" },
  "dev-allow-remote": { type: "boolean" },
  "metrics-port": { type: "string" },
  "log-level": { type: "string" },
  nats: { type: "string", multiple: true },
  "nats-prefix": { type: "string" },
  "nats-replicas": { type: "string" },
  "retention-max-age": { type: "string" },
  "retention-max-messages": { type: "string" },
  "dedupe-window": { type: "string" },
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
  const connection: [keyof ConnectionLimitSettings, string, number][] = [
    ["maxMessageBytes", "max-message-bytes", 1024],
    ["maxStreamsPerConnection", "max-streams-per-connection", 1],
    ["maxStreamsPerUser", "max-streams-per-user", 1],
    ["keepaliveIntervalMs", "keepalive-ms", 0],
    ["keepaliveTimeoutMs", "keepalive-timeout-ms", 1],
    ["idleTimeoutMs", "idle-timeout-ms", 0],
    ["maxStreamAgeMs", "max-stream-age-ms", 0],
  ];
  for (const [field, flag, min] of connection) {
    const value = parseInteger(`--${flag}`, v[flag as keyof Values] as string | undefined, min);
    if (value !== undefined) out[field] = value;
  }
  if (v["dev-allow-remote"]) out.devAllowRemote = true;
  const metricsPort = parseInteger("--metrics-port", v["metrics-port"]);
  if (metricsPort !== undefined) {
    if (metricsPort > 65_535) {
      throw new UsageError(`--metrics-port: must be 0-65535, got "${v["metrics-port"]}"`);
    }
    out.metricsPort = metricsPort;
  }
  if (v["log-level"] !== undefined) {
    if (!isLogLevel(v["log-level"])) {
      throw new UsageError(`--log-level: must be one of ${logLevels.join(", ")}`);
    }
    out.logLevel = v["log-level"];
  }
  const limits: [keyof ServerConfig["limits"], string][] = [
    ["heartbeatIntervalMs", "heartbeat-ms"],
    ["maxFileBytes", "max-file-bytes"],
    ["maxTextBytes", "max-text-bytes"],
    ["maxChunkBytes", "max-chunk-bytes"],
    ["maxQueueBytes", "max-queue-bytes"],
    ["sendRatePerSec", "send-rate-per-sec"],
    ["sendBurst", "send-burst"],
  ];
  for (const [field, flag] of limits) {
    const value = parseInteger(`--${flag}`, v[flag as keyof Values] as string | undefined, 1);
    if (value !== undefined) out.limits = { ...out.limits, [field]: value };
  }
  return applyNatsFlags(out, v);
}

/** Applies the cluster-mode flags; `--nats` switches the backend to NATS JetStream. */
function applyNatsFlags(config: ServerConfig, v: Values): ServerConfig {
  const servers = v.nats
    ?.flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  const settings = [
    "nats-prefix",
    "nats-replicas",
    "retention-max-age",
    "retention-max-messages",
    "dedupe-window",
  ] as const;
  if (servers === undefined || servers.length === 0) {
    if (v.nats !== undefined) throw new UsageError("--nats: must be a NATS URL");
    const stray = settings.find((flag) => v[flag] !== undefined);
    if (stray !== undefined && config.nats === undefined) {
      throw new UsageError(`--${stray}: only used with --nats (or SWITCHBOARD_NATS_URL)`);
    }
  }
  if (servers === undefined && config.nats === undefined) return config;
  const nats = { ...defaultNatsConfig, ...config.nats, servers: config.nats?.servers ?? [] };
  if (servers !== undefined) nats.servers = servers;
  if (v["nats-prefix"] !== undefined) nats.prefix = v["nats-prefix"];
  const replicas = parseInteger("--nats-replicas", v["nats-replicas"], 1);
  if (replicas !== undefined) {
    if (replicas > 5) throw new UsageError(`--nats-replicas: must be 1-5, got "${replicas}"`);
    nats.replicas = replicas;
  }
  const maxMessages = parseInteger("--retention-max-messages", v["retention-max-messages"]);
  if (maxMessages !== undefined) nats.maxMessagesPerRoom = maxMessages;
  const duration = (flag: string, raw: string | undefined, allowZero: boolean) => {
    if (raw === undefined) return undefined;
    try {
      return parseDurationMs(flag, raw, allowZero);
    } catch (err) {
      throw err instanceof ConfigError ? new UsageError(err.message) : err;
    }
  };
  const maxAge = duration("--retention-max-age", v["retention-max-age"], true);
  if (maxAge !== undefined) nats.maxAgeMs = maxAge;
  const dedupe = duration("--dedupe-window", v["dedupe-window"], false);
  if (dedupe !== undefined) nats.dedupeWindowMs = dedupe;
  return { ...config, nats };
}

/** One line saying where messages are stored, for the start-up banner. */
function describeStorage(config: ServerConfig): string {
  const nats = config.nats;
  if (nats === undefined) {
    return config.backend === "sqlite"
      ? `sqlite, data dir ${resolve(config.dataDir)}`
      : "memory (not durable)";
  }
  const age = nats.maxAgeMs === 0 ? "forever" : `${nats.maxAgeMs / 1000}s`;
  const count = nats.maxMessagesPerRoom === 0 ? "all" : `${nats.maxMessagesPerRoom}`;
  return [
    `NATS JetStream at ${nats.servers.join(",")} (cluster mode: run more nodes with the same`,
    `  --nats, --nats-prefix and --jwt-secret behind an HTTP/2 load balancer, see deploy/haproxy.cfg);`,
    `  prefix "${nats.prefix}", replicas ${nats.replicas}, retention: keep ${count} messages per room for ${age},`,
    `  dedupe window ${nats.dedupeWindowMs / 1000}s; health: GET /healthz`,
  ].join("\n");
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
  --send-rate-per-sec <n>   sustained sends per second per user (default 500)
  --send-burst <n>          sends per user at once before the rate applies (default 1000)
  --max-message-bytes <n>   largest request message (default 4 MiB)
  --max-streams-per-connection <n>
                            concurrent HTTP/2 streams per connection (default 100)
  --max-streams-per-user <n>
                            concurrent streaming calls per user (default 100)
  --keepalive-ms <n>        HTTP/2 PING interval, 0 = off (default 30000)
  --keepalive-timeout-ms <n>
                            unanswered PING closes the connection (default 10000)
  --idle-timeout-ms <n>     close HTTP/2 connections without calls, 0 = never (default 300000)
  --max-stream-age-ms <n>   end Subscribe/Chat streams after this age (±10 %) with a
                            resume hint, 0 = never (default 0)
  --dev                     development mode: log error causes, and let the browser
                            app sign anyone in by name (loopback hosts only)
  --dev-allow-remote        allow --dev on a non-loopback --host (anyone can sign in)
  --metrics-port <n>        serve Prometheus /metrics on this port instead of the
                            main one (SWITCHBOARD_METRICS_PORT)
  --log-level <level>       trace|debug|info|warn|error|fatal|silent: JSON logs on
                            stderr, one line per RPC at info (SWITCHBOARD_LOG_LEVEL)
  Tracing: OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP) and the other OTEL_* variables.

Cluster mode (NATS JetStream; every node of a cluster gets the same values):
  --nats <url>              NATS server, repeatable or a comma list; switches the
                            backend to JetStream (SWITCHBOARD_NATS_URL)
  --nats-prefix <p>         stream/bucket/subject prefix (SWITCHBOARD_NATS_PREFIX,
                            default switchboard)
  --nats-replicas <n>       JetStream replicas 1-5 (SWITCHBOARD_NATS_REPLICAS, default 1)
  --retention-max-age <d>   drop messages older than 90s|30m|24h|7d; 0 = keep
                            (SWITCHBOARD_RETENTION_MAX_AGE, default 0)
  --retention-max-messages <n>
                            newest messages kept per room; 0 = all
                            (SWITCHBOARD_RETENTION_MAX_MESSAGES, default 0)
  --dedupe-window <d>       how long Send remembers client_message_id
                            (SWITCHBOARD_DEDUPE_WINDOW, default 2m)

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
      const storage = describeStorage(config);
      ctx.stdout.write(
        [
          `switchboard listening on ${server.url} (gRPC, gRPC-Web, Connect)`,
          `open the browser app: ${server.url}/${config.dev ? " (dev sign-in: pick any name)" : " (sign in with a token)"}`,
          `backend: ${storage}`,
          `metrics: ${server.metricsUrl}`,
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
