/**
 * Server configuration, its defaults, and how it is read from the
 * environment. The CLI maps its flags onto the same fields.
 *
 * | Variable                                | Field                           | Default       | Meaning |
 * |-----------------------------------------|---------------------------------|---------------|---------|
 * | `SWITCHBOARD_HOST`                      | `host`                          | `127.0.0.1`   | Interface to listen on (`0.0.0.0` or `::` for all). |
 * | `SWITCHBOARD_PORT`                      | `port`                          | `8080`        | TCP port, 0-65535; 0 picks a free port. |
 * | `SWITCHBOARD_DATA_DIR`                  | `dataDir`                       | `./data`      | Directory for the sqlite database, files and the generated JWT secret. |
 * | `SWITCHBOARD_BACKEND`                   | `backend`                       | `sqlite`      | `sqlite` (durable) or `memory` (lost on exit). |
 * | `SWITCHBOARD_JWT_SECRET`                | `jwtSecret`                     | generated     | HS256 secret, at least 32 bytes. When unset, `<dataDir>/jwt-secret` is created on first start (mode 0600) and reused. |
 * | `SWITCHBOARD_TLS_CERT`                  | `tlsCert`                       | none          | PEM certificate chain file. Set together with `SWITCHBOARD_TLS_KEY` to serve HTTPS (h2 and HTTP/1.1 by ALPN). |
 * | `SWITCHBOARD_TLS_KEY`                   | `tlsKey`                        | none          | PEM private key file. |
 * | `SWITCHBOARD_CORS_ORIGINS`              | `corsOrigins`                   | none          | Comma-separated browser origins allowed to call the API, e.g. `https://app.example.com`; `*` allows any. |
 * | `SWITCHBOARD_UNARY_TIMEOUT_MS`          | `unaryTimeoutMs`                | `30000`       | Server cap for unary calls (Send, History); longer calls end with `deadline_exceeded`. |
 * | `SWITCHBOARD_SHUTDOWN_GRACE_MS`         | `shutdownGraceMs`               | `5000`        | On shutdown, how long in-flight unary calls may finish before connections are cut. |
 * | `SWITCHBOARD_DEV`                       | `dev`                           | `false`       | `true`/`1`: development mode (error causes logged with stacks; the dev sign-in endpoint `/dev/sign-in`). The server refuses to start on a non-loopback host unless `devAllowRemote`. |
 * | `SWITCHBOARD_DEV_ALLOW_REMOTE`          | `devAllowRemote`                | `false`       | Allow dev mode on a non-loopback host: anyone who reaches the port can sign in as anyone. |
 * | `SWITCHBOARD_REFLECTION`                | `reflection`                    | `true`        | Serve gRPC server reflection (v1 and v1alpha, no token needed); `false` turns it off. |
 * | `SWITCHBOARD_FAST_PATH`                 | `fastPath`                      | `true`        | Serve plain unary/server-streaming calls on the fast path (docs/fast-path.md); `false`: connect-node serves all. |
 * | `SWITCHBOARD_METRICS_PORT`              | `metricsPort`                   | main port     | Serve Prometheus `/metrics` on this port (0 = any free port) instead of the main port. |
 * | `SWITCHBOARD_LOG_LEVEL`                 | `logLevel`                      | `info`        | Structured JSON logs on stderr: `trace`, `debug`, `info` (one line per RPC), `warn`, `error`, `fatal`, `silent`. |
 * | `OTEL_*`                                | `otel`                          | none          | OpenTelemetry tracing (OTLP/HTTP), off unless an exporter is set; see observability/tracing.ts. |
 * | `SWITCHBOARD_HEARTBEAT_MS`              | `limits.heartbeatIntervalMs`    | `15000`       | Idle time after which streams get a heartbeat. |
 * | `SWITCHBOARD_MAX_TEXT_BYTES`            | `limits.maxTextBytes`           | `16384`       | Maximum UTF-8 bytes of a message text. |
 * | `SWITCHBOARD_MAX_ATTACHMENTS`           | `limits.maxAttachments`         | `16`          | Maximum attachments per message. |
 * | `SWITCHBOARD_MAX_ROOMS_PER_SUBSCRIPTION`| `limits.maxRoomsPerSubscription`| `64`          | Maximum rooms per Subscribe call or Chat stream. |
 * | `SWITCHBOARD_MAX_CHUNK_BYTES`           | `limits.maxChunkBytes`          | `1048576`     | Maximum bytes of one upload chunk. |
 * | `SWITCHBOARD_MAX_FILE_BYTES`            | `limits.maxFileBytes`           | `1073741824`  | Maximum bytes of one file. |
 * | `SWITCHBOARD_DOWNLOAD_CHUNK_BYTES`      | `limits.downloadChunkBytes`     | `65536`       | Bytes per download chunk. |
 * | `SWITCHBOARD_MAX_QUEUE_BYTES`           | `limits.maxQueueBytes`          | `8388608`     | Bytes queued per subscriber before it is ended as too slow. |
 * | `SWITCHBOARD_REPLAY_PAGE_SIZE`          | `limits.replayPageSize`         | `500`         | Messages read per page while replaying history to a subscriber. |
 * | `SWITCHBOARD_SEND_RATE_PER_SEC`         | `limits.sendRatePerSec`         | `500`         | Sustained sends per second per user (token bucket); beyond: `resource_exhausted` with `retry-after-ms`. |
 * | `SWITCHBOARD_SEND_BURST`                | `limits.sendBurst`              | `1000`        | Sends per user allowed at once (bucket size). |
 * | `SWITCHBOARD_SLOW_CONSUMER_GRACE_MS`    | `limits.slowConsumerGraceMs`    | `5000`        | A subscriber ended as too slow that does not read that error within this is reset. |
 * | `SWITCHBOARD_NATS_URL`                  | `nats.servers`                  | none          | Comma-separated NATS URLs (`nats://host:4222`). When set, the backend is NATS JetStream (cluster mode) instead of `SWITCHBOARD_BACKEND`. |
 * | `SWITCHBOARD_NATS_PREFIX`               | `nats.prefix`                   | `switchboard` | Prefix of the streams, buckets and subjects in NATS; nodes of one cluster share it. |
 * | `SWITCHBOARD_RETENTION_MAX_AGE`         | `nats.maxAgeMs`                 | `0` (forever) | Messages older than this are dropped: `90s`, `30m`, `24h`, `7d`; `0` keeps them. |
 * | `SWITCHBOARD_RETENTION_MAX_MESSAGES`    | `nats.maxMessagesPerRoom`       | `0` (no limit)| Newest messages kept per room; `0` keeps all. |
 * | `SWITCHBOARD_NATS_REPLICAS`             | `nats.replicas`                 | `1`           | JetStream replicas (1-5) of the streams and buckets; 3 survives the loss of one NATS server. |
 * | `SWITCHBOARD_DEDUPE_WINDOW`             | `nats.dedupeWindowMs`           | `2m`          | How long a `client_message_id` is remembered for idempotent Send retries. |
 *
 * The `SWITCHBOARD_NATS_*`, `SWITCHBOARD_RETENTION_*` and
 * `SWITCHBOARD_DEDUPE_WINDOW` variables need `SWITCHBOARD_NATS_URL`.
 *
 * Request size, concurrent streams, keepalive, idle and stream-age settings
 * (`SWITCHBOARD_MAX_MESSAGE_BYTES`, `SWITCHBOARD_MAX_STREAMS_PER_*`,
 * `SWITCHBOARD_KEEPALIVE_*`, `SWITCHBOARD_IDLE_TIMEOUT_MS`,
 * `SWITCHBOARD_MAX_STREAM_AGE_MS`) are described in `limits/settings.ts`.
 *
 * Empty variables count as unset. Invalid values raise a {@link ConfigError}
 * naming the variable.
 *
 * @module
 */

import { isLogLevel, type LogLevel, logLevels } from "../observability/log-levels.js";
import type { ServiceLimits } from "../service/limits.js";
import {
  type ConnectionLimitSettings,
  connectionLimitsFromEnv,
  validateConnectionLimits,
} from "./limits/settings.js";

/** Everything `createSwitchboardServer` needs. */
export interface ServerConfig extends ConnectionLimitSettings {
  /** Interface to listen on. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Directory for durable data and the generated JWT secret. */
  dataDir: string;
  /** Storage backend. */
  backend: "sqlite" | "memory";
  /** HS256 secret (at least 32 bytes); generated into `<dataDir>/jwt-secret` when absent. */
  jwtSecret?: string;
  /** Path of a PEM certificate chain; with `tlsKey`, the server speaks TLS only. */
  tlsCert?: string;
  /** Path of a PEM private key. */
  tlsKey?: string;
  /** Browser origins allowed by CORS (exact match); `"*"` allows any origin. */
  corsOrigins: string[];
  /** Server cap for unary calls in milliseconds. */
  unaryTimeoutMs: number;
  /** Grace period for in-flight unary calls on `close()`, in milliseconds. */
  shutdownGraceMs: number;
  /** Service limit overrides. */
  limits: Partial<ServiceLimits>;
  /** Development mode: error causes are logged with stacks. */
  dev: boolean;
  /** Allow dev mode (and its sign-in endpoint) on a non-loopback host. */
  devAllowRemote?: boolean;
  /** Serve gRPC server reflection (no token needed); default true. */
  reflection?: boolean;
  /** Serve plain calls on the fast path (docs/fast-path.md); default true. */
  fastPath?: boolean;
  /** Cluster mode: when set, the backend is NATS JetStream (`backend` is then ignored). */
  nats?: NatsConfig;
  /** Serve `/metrics` on this port (0 = any free one) instead of the main port. */
  metricsPort?: number;
  /** Level of the structured JSON logs on stderr; default "info" (one line per RPC). */
  logLevel?: LogLevel;
  /** The `OTEL_*` variables tracing is configured from (observability/tracing.ts); none = off. */
  otel?: Record<string, string>;
}

/** NATS JetStream settings of cluster mode. Every node of a cluster uses the same. */
export interface NatsConfig {
  /** NATS server URLs, e.g. `["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]`; at least one. */
  servers: string[];
  /** Prefix of every stream, bucket and subject name in NATS. */
  prefix: string;
  /** How long a `client_message_id` is remembered for idempotent Send retries, in milliseconds. */
  dedupeWindowMs: number;
  /** Retention by age in milliseconds; 0 keeps messages forever. */
  maxAgeMs: number;
  /** Retention by count: newest messages kept per room; 0 keeps all. */
  maxMessagesPerRoom: number;
  /** JetStream replicas of the streams and buckets, 1-5. */
  replicas: number;
}

/** Defaults of {@link NatsConfig} (all but `servers`). */
export const defaultNatsConfig: Readonly<Omit<NatsConfig, "servers">> = Object.freeze({
  prefix: "switchboard",
  dedupeWindowMs: 120_000,
  maxAgeMs: 0,
  maxMessagesPerRoom: 0,
  replicas: 1,
});

/** Defaults for {@link ServerConfig}. */
export const defaultServerConfig: Readonly<ServerConfig> = Object.freeze({
  host: "127.0.0.1",
  port: 8080,
  dataDir: "./data",
  backend: "sqlite",
  corsOrigins: [],
  unaryTimeoutMs: 30_000,
  shutdownGraceMs: 5_000,
  limits: {},
  dev: false,
});

/** A configuration value is invalid. The message names the setting. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

function configError(message: string): never {
  throw new ConfigError(message);
}

const limitVariables: Record<keyof ServiceLimits, string> = {
  heartbeatIntervalMs: "SWITCHBOARD_HEARTBEAT_MS",
  maxTextBytes: "SWITCHBOARD_MAX_TEXT_BYTES",
  maxAttachments: "SWITCHBOARD_MAX_ATTACHMENTS",
  maxRoomsPerSubscription: "SWITCHBOARD_MAX_ROOMS_PER_SUBSCRIPTION",
  maxChunkBytes: "SWITCHBOARD_MAX_CHUNK_BYTES",
  maxFileBytes: "SWITCHBOARD_MAX_FILE_BYTES",
  downloadChunkBytes: "SWITCHBOARD_DOWNLOAD_CHUNK_BYTES",
  maxQueueBytes: "SWITCHBOARD_MAX_QUEUE_BYTES",
  replayPageSize: "SWITCHBOARD_REPLAY_PAGE_SIZE",
  sendRatePerSec: "SWITCHBOARD_SEND_RATE_PER_SEC",
  sendBurst: "SWITCHBOARD_SEND_BURST",
  slowConsumerGraceMs: "SWITCHBOARD_SLOW_CONSUMER_GRACE_MS",
};

/**
 * Reads the `SWITCHBOARD_*` variables (see the module table) over `base`
 * (default {@link defaultServerConfig}) and validates the result.
 *
 * @throws ConfigError naming the first invalid variable.
 *
 * @example
 * const config = serverConfigFromEnv(process.env);
 */
export function serverConfigFromEnv(
  env: Record<string, string | undefined>,
  base: Readonly<ServerConfig> = defaultServerConfig,
): ServerConfig {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };
  const config: ServerConfig = {
    ...base,
    corsOrigins: [...base.corsOrigins],
    limits: { ...base.limits },
  };
  const host = get("SWITCHBOARD_HOST");
  if (host !== undefined) config.host = host;
  const port = get("SWITCHBOARD_PORT");
  if (port !== undefined) config.port = parseInteger("SWITCHBOARD_PORT", port, 0, 65_535);
  const dataDir = get("SWITCHBOARD_DATA_DIR");
  if (dataDir !== undefined) config.dataDir = dataDir;
  const backend = get("SWITCHBOARD_BACKEND");
  if (backend !== undefined) {
    if (backend !== "sqlite" && backend !== "memory") {
      throw new ConfigError(`SWITCHBOARD_BACKEND: must be "sqlite" or "memory", got "${backend}"`);
    }
    config.backend = backend;
  }
  const secret = env.SWITCHBOARD_JWT_SECRET;
  if (secret !== undefined && secret !== "") config.jwtSecret = secret;
  const cert = get("SWITCHBOARD_TLS_CERT");
  if (cert !== undefined) config.tlsCert = cert;
  const key = get("SWITCHBOARD_TLS_KEY");
  if (key !== undefined) config.tlsKey = key;
  const cors = get("SWITCHBOARD_CORS_ORIGINS");
  if (cors !== undefined) config.corsOrigins = parseList(cors);
  const unary = get("SWITCHBOARD_UNARY_TIMEOUT_MS");
  if (unary !== undefined)
    config.unaryTimeoutMs = parseInteger("SWITCHBOARD_UNARY_TIMEOUT_MS", unary, 1);
  const grace = get("SWITCHBOARD_SHUTDOWN_GRACE_MS");
  if (grace !== undefined)
    config.shutdownGraceMs = parseInteger("SWITCHBOARD_SHUTDOWN_GRACE_MS", grace, 0);
  const dev = get("SWITCHBOARD_DEV");
  if (dev !== undefined) config.dev = parseBoolean("SWITCHBOARD_DEV", dev);
  const reflection = get("SWITCHBOARD_REFLECTION");
  if (reflection !== undefined)
    config.reflection = parseBoolean("SWITCHBOARD_REFLECTION", reflection);
  const fastPath = get("SWITCHBOARD_FAST_PATH");
  if (fastPath !== undefined) config.fastPath = parseBoolean("SWITCHBOARD_FAST_PATH", fastPath);
  const devRemote = get("SWITCHBOARD_DEV_ALLOW_REMOTE");
  if (devRemote !== undefined) {
    config.devAllowRemote = parseBoolean("SWITCHBOARD_DEV_ALLOW_REMOTE", devRemote);
  }
  const metricsPort = get("SWITCHBOARD_METRICS_PORT");
  if (metricsPort !== undefined)
    config.metricsPort = parseInteger("SWITCHBOARD_METRICS_PORT", metricsPort, 0, 65_535);
  const logLevel = get("SWITCHBOARD_LOG_LEVEL");
  if (logLevel !== undefined) config.logLevel = logLevel as LogLevel; // validated below
  const otel = Object.entries(env).filter(([k, v]) => k.startsWith("OTEL_") && v?.trim());
  if (otel.length > 0) config.otel = Object.fromEntries(otel) as Record<string, string>;
  const limits: Partial<Record<keyof ServiceLimits, number>> = config.limits;
  for (const [field, name] of Object.entries(limitVariables) as [keyof ServiceLimits, string][]) {
    const value = get(name);
    if (value !== undefined) limits[field] = parseInteger(name, value, 1);
  }
  config.nats = natsConfigFromEnv(get, base.nats);
  if (config.nats === undefined) delete config.nats;
  Object.assign(config, connectionLimitsFromEnv(get, configError));
  validateServerConfig(config, true);
  return config;
}

/** Reads the NATS variables; undefined when `SWITCHBOARD_NATS_URL` is unset and `base` has none. */
function natsConfigFromEnv(
  get: (name: string) => string | undefined,
  base: NatsConfig | undefined,
): NatsConfig | undefined {
  const url = get("SWITCHBOARD_NATS_URL");
  const settings = [
    "SWITCHBOARD_NATS_PREFIX",
    "SWITCHBOARD_RETENTION_MAX_AGE",
    "SWITCHBOARD_RETENTION_MAX_MESSAGES",
    "SWITCHBOARD_NATS_REPLICAS",
    "SWITCHBOARD_DEDUPE_WINDOW",
  ];
  if (url === undefined && base === undefined) {
    const stray = settings.find((name) => get(name) !== undefined);
    if (stray)
      throw new ConfigError(`${stray}: only used with SWITCHBOARD_NATS_URL, which is unset`);
    return undefined;
  }
  const nats: NatsConfig = { ...defaultNatsConfig, ...base, servers: [...(base?.servers ?? [])] };
  if (url !== undefined) nats.servers = parseList(url);
  const prefix = get("SWITCHBOARD_NATS_PREFIX");
  if (prefix !== undefined) nats.prefix = prefix;
  const maxAge = get("SWITCHBOARD_RETENTION_MAX_AGE");
  if (maxAge !== undefined)
    nats.maxAgeMs = parseDurationMs("SWITCHBOARD_RETENTION_MAX_AGE", maxAge, true);
  const maxMessages = get("SWITCHBOARD_RETENTION_MAX_MESSAGES");
  if (maxMessages !== undefined)
    nats.maxMessagesPerRoom = parseInteger("SWITCHBOARD_RETENTION_MAX_MESSAGES", maxMessages, 0);
  const replicas = get("SWITCHBOARD_NATS_REPLICAS");
  if (replicas !== undefined)
    nats.replicas = parseInteger("SWITCHBOARD_NATS_REPLICAS", replicas, 1, 5);
  const dedupe = get("SWITCHBOARD_DEDUPE_WINDOW");
  if (dedupe !== undefined)
    nats.dedupeWindowMs = parseDurationMs("SWITCHBOARD_DEDUPE_WINDOW", dedupe, false);
  return nats;
}

const durationUnitsMs: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration like `500ms`, `90s`, `30m`, `24h` or `7d` (a bare number
 * is seconds) into milliseconds. `0` is accepted only with `allowZero`.
 *
 * @throws ConfigError naming `name`.
 *
 * @example
 * parseDurationMs("SWITCHBOARD_RETENTION_MAX_AGE", "7d", true); // 604800000
 */
export function parseDurationMs(name: string, raw: string, allowZero: boolean): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
  const ms = match ? Number(match[1]) * (durationUnitsMs[match[2] ?? "s"] ?? 1_000) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 0 || (ms === 0 && !allowZero)) {
    const zero = allowZero ? "; 0 for no limit" : "";
    throw new ConfigError(
      `${name}: must be a duration like 90s, 30m, 24h or 7d${zero}, got "${raw}"`,
    );
  }
  return ms;
}

/**
 * Checks a complete configuration. Messages name the config field (or, with
 * `envNames`, the environment variable).
 *
 * @throws ConfigError for the first invalid field.
 */
export function validateServerConfig(config: ServerConfig, envNames = false): void {
  const n = (field: string, variable: string) => (envNames ? variable : field);
  if (typeof config.host !== "string" || config.host === "") {
    throw new ConfigError(`${n("host", "SWITCHBOARD_HOST")}: must not be empty`);
  }
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65_535) {
    throw new ConfigError(`${n("port", "SWITCHBOARD_PORT")}: must be an integer 0-65535`);
  }
  if (config.backend !== "sqlite" && config.backend !== "memory") {
    throw new ConfigError(`${n("backend", "SWITCHBOARD_BACKEND")}: must be "sqlite" or "memory"`);
  }
  if (
    config.backend === "sqlite" &&
    (typeof config.dataDir !== "string" || config.dataDir === "")
  ) {
    throw new ConfigError(`${n("dataDir", "SWITCHBOARD_DATA_DIR")}: must not be empty`);
  }
  if (config.jwtSecret !== undefined && Buffer.byteLength(config.jwtSecret, "utf8") < 32) {
    throw new ConfigError(`${n("jwtSecret", "SWITCHBOARD_JWT_SECRET")}: must be at least 32 bytes`);
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError(
      `${n("tlsCert", "SWITCHBOARD_TLS_CERT")}/${n("tlsKey", "SWITCHBOARD_TLS_KEY")}: set both or neither`,
    );
  }
  for (const origin of config.corsOrigins) {
    if (origin !== "*" && !/^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(origin)) {
      throw new ConfigError(
        `${n("corsOrigins", "SWITCHBOARD_CORS_ORIGINS")}: "${origin}" is not an origin like https://example.com (no path) or *`,
      );
    }
  }
  if (!Number.isInteger(config.unaryTimeoutMs) || config.unaryTimeoutMs <= 0) {
    throw new ConfigError(
      `${n("unaryTimeoutMs", "SWITCHBOARD_UNARY_TIMEOUT_MS")}: must be a positive integer`,
    );
  }
  if (!Number.isInteger(config.shutdownGraceMs) || config.shutdownGraceMs < 0) {
    throw new ConfigError(
      `${n("shutdownGraceMs", "SWITCHBOARD_SHUTDOWN_GRACE_MS")}: must be an integer >= 0`,
    );
  }
  if (config.nats !== undefined) validateNatsConfig(config.nats, envNames);
  validateObservabilityConfig(config, envNames);
  validateConnectionLimits(config, envNames, configError);
  for (const [field, value] of Object.entries(config.limits)) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      const variable = limitVariables[field as keyof ServiceLimits] ?? field;
      throw new ConfigError(`${n(`limits.${field}`, variable)}: must be a positive integer`);
    }
  }
}

function validateObservabilityConfig(config: ServerConfig, envNames: boolean): void {
  const n = (field: string, variable: string) => (envNames ? variable : field);
  const { metricsPort, logLevel } = config;
  if (metricsPort !== undefined) {
    if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65_535) {
      throw new ConfigError(`${n("metricsPort", "SWITCHBOARD_METRICS_PORT")}: must be 0-65535`);
    }
    if (metricsPort !== 0 && metricsPort === config.port) {
      throw new ConfigError(
        `${n("metricsPort", "SWITCHBOARD_METRICS_PORT")}: must differ from the main port (omit it to serve /metrics there)`,
      );
    }
  }
  if (logLevel !== undefined && !isLogLevel(logLevel)) {
    throw new ConfigError(
      `${n("logLevel", "SWITCHBOARD_LOG_LEVEL")}: must be one of ${logLevels.join(", ")}, got "${logLevel}"`,
    );
  }
}

function validateNatsConfig(nats: NatsConfig, envNames: boolean): void {
  const n = (field: string, variable: string) => (envNames ? variable : `nats.${field}`);
  if (!Array.isArray(nats.servers) || nats.servers.length === 0) {
    throw new ConfigError(`${n("servers", "SWITCHBOARD_NATS_URL")}: at least one NATS URL`);
  }
  for (const server of nats.servers) {
    if (!/^((nats|tls|ws|wss):\/\/)?[^\s/]+\/?$/.test(server)) {
      throw new ConfigError(
        `${n("servers", "SWITCHBOARD_NATS_URL")}: "${server}" is not a NATS URL like nats://127.0.0.1:4222`,
      );
    }
  }
  if (typeof nats.prefix !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(nats.prefix)) {
    throw new ConfigError(
      `${n("prefix", "SWITCHBOARD_NATS_PREFIX")}: must be 1-64 characters of [A-Za-z0-9_-]`,
    );
  }
  const checks: [keyof NatsConfig, string, number, number][] = [
    ["dedupeWindowMs", "SWITCHBOARD_DEDUPE_WINDOW", 100, Number.MAX_SAFE_INTEGER],
    ["maxAgeMs", "SWITCHBOARD_RETENTION_MAX_AGE", 0, Number.MAX_SAFE_INTEGER],
    ["maxMessagesPerRoom", "SWITCHBOARD_RETENTION_MAX_MESSAGES", 0, Number.MAX_SAFE_INTEGER],
    ["replicas", "SWITCHBOARD_NATS_REPLICAS", 1, 5],
  ];
  for (const [field, variable, min, max] of checks) {
    const value = nats[field];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`;
      throw new ConfigError(`${n(field, variable)}: must be an integer ${range}`);
    }
  }
}

function parseInteger(
  name: string,
  raw: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}-${max}`;
    throw new ConfigError(`${name}: must be an integer ${range}, got "${raw}"`);
  }
  return value;
}

function parseBoolean(name: string, raw: string): boolean {
  const v = raw.toLowerCase();
  if (v === "1" || v === "true" || v === "yes" || v === "on") return true;
  if (v === "0" || v === "false" || v === "no" || v === "off") return false;
  throw new ConfigError(`${name}: must be true or false, got "${raw}"`);
}

function parseList(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
