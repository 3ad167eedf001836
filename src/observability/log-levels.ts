/**
 * The log levels of `--log-level` / `SWITCHBOARD_LOG_LEVEL`, without the
 * logger itself (configuration code needs only these).
 *
 * @module
 */

/** Levels accepted by `--log-level` / `SWITCHBOARD_LOG_LEVEL`, most verbose first. */
export const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** One of {@link logLevels}. */
export type LogLevel = (typeof logLevels)[number];

/**
 * Tells whether a string is a {@link LogLevel}.
 *
 * @example
 * isLogLevel("debug"); // true
 */
export function isLogLevel(value: string): value is LogLevel {
  return (logLevels as readonly string[]).includes(value);
}
