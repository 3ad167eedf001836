/**
 * Production limits of the server that are not per-RPC service limits:
 * request size, concurrent streams, keepalive, idle connections and stream
 * age. They are optional fields of `ServerConfig`; a missing field takes its
 * default from {@link defaultConnectionLimits}.
 *
 * | Variable                                  | Field                     | Default    | Meaning |
 * |-------------------------------------------|---------------------------|------------|---------|
 * | `SWITCHBOARD_MAX_MESSAGE_BYTES`           | `maxMessageBytes`         | `4194304`  | Largest request message (after decompression); larger ones end with `resource_exhausted`. |
 * | `SWITCHBOARD_MAX_STREAMS_PER_CONNECTION`  | `maxStreamsPerConnection` | `100`      | HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`: concurrent calls on one connection. |
 * | `SWITCHBOARD_MAX_STREAMS_PER_USER`        | `maxStreamsPerUser`       | `100`      | Concurrent streaming calls (Subscribe, Chat, Upload, Download) of one user; more end with `resource_exhausted`. |
 * | `SWITCHBOARD_KEEPALIVE_MS`                | `keepaliveIntervalMs`     | `30000`    | HTTP/2 PING interval; `0` turns keepalive off. |
 * | `SWITCHBOARD_KEEPALIVE_TIMEOUT_MS`        | `keepaliveTimeoutMs`      | `10000`    | A PING not answered within this closes the connection. |
 * | `SWITCHBOARD_IDLE_TIMEOUT_MS`             | `idleTimeoutMs`           | `300000`   | An HTTP/2 connection without calls for this long is closed (GOAWAY); `0` = never. |
 * | `SWITCHBOARD_MAX_STREAM_AGE_MS`           | `maxStreamAgeMs`          | `0` (off)  | Subscribe and Chat streams end with `unavailable` and a resume hint after this age (±10 % jitter), so clients reconnect, possibly to another node. |
 *
 * @module
 */

/** The settings of this module, all in one object with every default filled in. */
export interface ConnectionLimits {
  /** Largest request message in bytes (connect's `readMaxBytes`). */
  readonly maxMessageBytes: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxStreamsPerConnection: number;
  /** Concurrent streaming calls per user. */
  readonly maxStreamsPerUser: number;
  /** HTTP/2 PING interval in ms; 0 = off. */
  readonly keepaliveIntervalMs: number;
  /** PING acknowledgement timeout in ms. */
  readonly keepaliveTimeoutMs: number;
  /** Close HTTP/2 connections without calls after this many ms; 0 = never. */
  readonly idleTimeoutMs: number;
  /** Maximum age of Subscribe and Chat streams in ms (±10 % jitter); 0 = unlimited. */
  readonly maxStreamAgeMs: number;
}

/** Defaults of {@link ConnectionLimits}. */
export const defaultConnectionLimits: ConnectionLimits = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxStreamsPerConnection: 100,
  maxStreamsPerUser: 100,
  keepaliveIntervalMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxStreamAgeMs: 0,
});

/** Fraction of `maxStreamAgeMs` by which each stream's age limit is randomized. */
export const streamAgeJitter = 0.1;

interface Setting {
  readonly field: keyof ConnectionLimits;
  readonly variable: string;
  /** Smallest allowed value (0 means "off" where allowed). */
  readonly min: number;
}

const settings: readonly Setting[] = [
  { field: "maxMessageBytes", variable: "SWITCHBOARD_MAX_MESSAGE_BYTES", min: 1024 },
  { field: "maxStreamsPerConnection", variable: "SWITCHBOARD_MAX_STREAMS_PER_CONNECTION", min: 1 },
  { field: "maxStreamsPerUser", variable: "SWITCHBOARD_MAX_STREAMS_PER_USER", min: 1 },
  { field: "keepaliveIntervalMs", variable: "SWITCHBOARD_KEEPALIVE_MS", min: 0 },
  { field: "keepaliveTimeoutMs", variable: "SWITCHBOARD_KEEPALIVE_TIMEOUT_MS", min: 1 },
  { field: "idleTimeoutMs", variable: "SWITCHBOARD_IDLE_TIMEOUT_MS", min: 0 },
  { field: "maxStreamAgeMs", variable: "SWITCHBOARD_MAX_STREAM_AGE_MS", min: 0 },
];

/** The largest timer delay Node accepts (about 24.8 days). */
const maxTimerMs = 2 ** 31 - 1;

/**
 * Reads the variables of the module table. Returns only the fields that are
 * set; `fail` is called with a message naming the variable for a bad value.
 *
 * @example
 * Object.assign(config, connectionLimitsFromEnv(get, (m) => { throw new ConfigError(m); }));
 */
export function connectionLimitsFromEnv(
  get: (name: string) => string | undefined,
  fail: (message: string) => never,
): Partial<ConnectionLimits> {
  const out: Partial<Record<keyof ConnectionLimits, number>> = {};
  for (const { field, variable, min } of settings) {
    const raw = get(variable);
    if (raw === undefined) continue;
    const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min) {
      fail(`${variable}: must be an integer >= ${min}, got "${raw}"`);
    }
    out[field] = value;
  }
  return out;
}

/**
 * Checks the fields of `config` that belong to this module. Messages name
 * the field, or the variable with `envNames`.
 *
 * @example
 * validateConnectionLimits(config, false, (m) => { throw new ConfigError(m); });
 */
export function validateConnectionLimits(
  config: Partial<ConnectionLimits>,
  envNames: boolean,
  fail: (message: string) => never,
): void {
  for (const { field, variable, min } of settings) {
    const value = config[field];
    if (value === undefined) continue;
    const name = envNames ? variable : field;
    const max = field.endsWith("Ms") ? maxTimerMs : Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      fail(`${name}: must be an integer ${min}-${max}`);
    }
  }
}

/**
 * Fills in the defaults for the fields `config` does not set.
 *
 * @example
 * const limits = resolveConnectionLimits(config);
 */
export function resolveConnectionLimits(config: Partial<ConnectionLimits>): ConnectionLimits {
  const out: Record<keyof ConnectionLimits, number> = { ...defaultConnectionLimits };
  for (const { field } of settings) {
    const value = config[field];
    if (value !== undefined) out[field] = value;
  }
  return out;
}

/** {@link ConnectionLimits} as writable optional fields, for `ServerConfig`. */
export type ConnectionLimitSettings = { -readonly [K in keyof ConnectionLimits]?: number };
