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
 * | `SWITCHBOARD_DEV`                       | `dev`                           | `false`       | `true`/`1`: development mode (error causes logged with stacks). |
 * | `SWITCHBOARD_HEARTBEAT_MS`              | `limits.heartbeatIntervalMs`    | `15000`       | Idle time after which streams get a heartbeat. |
 * | `SWITCHBOARD_MAX_TEXT_BYTES`            | `limits.maxTextBytes`           | `16384`       | Maximum UTF-8 bytes of a message text. |
 * | `SWITCHBOARD_MAX_ATTACHMENTS`           | `limits.maxAttachments`         | `16`          | Maximum attachments per message. |
 * | `SWITCHBOARD_MAX_ROOMS_PER_SUBSCRIPTION`| `limits.maxRoomsPerSubscription`| `64`          | Maximum rooms per Subscribe call or Chat stream. |
 * | `SWITCHBOARD_MAX_CHUNK_BYTES`           | `limits.maxChunkBytes`          | `1048576`     | Maximum bytes of one upload chunk. |
 * | `SWITCHBOARD_MAX_FILE_BYTES`            | `limits.maxFileBytes`           | `1073741824`  | Maximum bytes of one file. |
 * | `SWITCHBOARD_DOWNLOAD_CHUNK_BYTES`      | `limits.downloadChunkBytes`     | `65536`       | Bytes per download chunk. |
 * | `SWITCHBOARD_MAX_QUEUE_BYTES`           | `limits.maxQueueBytes`          | `8388608`     | Bytes queued per subscriber before it is ended as too slow. |
 * | `SWITCHBOARD_REPLAY_PAGE_SIZE`          | `limits.replayPageSize`         | `500`         | Messages read per page while replaying history to a subscriber. |
 *
 * Empty variables count as unset. Invalid values raise a {@link ConfigError}
 * naming the variable.
 *
 * @module
 */

import type { ServiceLimits } from "../service/limits.js";

/** Everything `createSwitchboardServer` needs. */
export interface ServerConfig {
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
}

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
  const limits: Partial<Record<keyof ServiceLimits, number>> = config.limits;
  for (const [field, name] of Object.entries(limitVariables) as [keyof ServiceLimits, string][]) {
    const value = get(name);
    if (value !== undefined) limits[field] = parseInteger(name, value, 1);
  }
  validateServerConfig(config, true);
  return config;
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
  for (const [field, value] of Object.entries(config.limits)) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      const variable = limitVariables[field as keyof ServiceLimits] ?? field;
      throw new ConfigError(`${n(`limits.${field}`, variable)}: must be a positive integer`);
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
