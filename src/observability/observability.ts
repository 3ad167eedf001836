/**
 * Everything a server observes itself with: metrics, tracing and the logger,
 * created together and closed together.
 *
 * @module
 */

import type { DestinationStream } from "pino";
import { createLogger, type Logger, type LogLevel } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { createTracing, type Tracing } from "./tracing.js";

/** Metrics, tracing and logs of one server. */
export interface Observability {
  readonly metrics: Metrics;
  readonly tracing: Tracing;
  readonly logger: Logger;
  /** Flushes and stops the span exporter. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createObservability}. */
export interface ObservabilityOptions {
  /** Default "info". */
  readonly logLevel?: LogLevel;
  /** `OTEL_*` variables (see tracing.ts); tracing is off without an exporter setting. */
  readonly otel?: Readonly<Record<string, string | undefined>>;
  /** Where log lines go; default stderr. */
  readonly logDestination?: DestinationStream;
}

/**
 * Creates the observability of one server.
 *
 * @example
 * const obs = createObservability({ logLevel: "info", otel: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" } });
 * await obs.close();
 */
export function createObservability(options: ObservabilityOptions = {}): Observability {
  const tracing = createTracing(options.otel ?? {});
  return {
    metrics: createMetrics(),
    tracing,
    logger: createLogger({
      level: options.logLevel ?? "info",
      ...(options.logDestination ? { destination: options.logDestination } : {}),
    }),
    close: () => tracing.shutdown(),
  };
}
