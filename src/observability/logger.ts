/**
 * Structured JSON logs (pino), one object per line on stderr. Callers log
 * identifiers, codes, sizes and durations — never tokens, headers or message
 * bodies; the redaction list is a second line of defence.
 *
 * @module
 */

import { type DestinationStream, type Logger, pino } from "pino";

import type { LogLevel } from "./log-levels.js";

export type { Logger } from "pino";
export { isLogLevel, type LogLevel, logLevels } from "./log-levels.js";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where lines go; default stderr (written synchronously, so nothing is lost at exit). */
  readonly destination?: DestinationStream;
}

/** Fields that must never be logged, should a caller pass an object holding them. */
export const redactedPaths: readonly string[] = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "token",
  "*.token",
  "text",
  "*.text",
];

/**
 * Creates the server's logger. Lines look like
 * `{"level":"info","time":"2025-…","msg":"rpc","method":"Send",…}`.
 *
 * @example
 * const logger = createLogger({ level: "info" });
 * logger.info({ method: "Send", code: "ok" }, "rpc");
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      // No pid/hostname: the log collector adds where a line came from.
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...redactedPaths], censor: "[redacted]" },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/**
 * The loggable form of an error: name, message and code, with the stack
 * only when `withStack` (development mode).
 *
 * @example
 * logger.error({ error: describeError(e, dev) }, "rpc failed");
 */
export function describeError(
  err: unknown,
  withStack: boolean,
  depth = 0,
): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") out.code = code;
  if (withStack && err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined && depth < 4) {
    out.cause = describeError(err.cause, withStack, depth + 1);
  }
  return out;
}
