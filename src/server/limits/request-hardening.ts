/**
 * The request-level limits the request handler applies: the request message
 * size (connect's `readMaxBytes`; larger requests end with
 * `resource_exhausted`), the per-user stream limit and the stream-age /
 * resume-hint interceptor.
 *
 * @module
 */
import type { Interceptor } from "@connectrpc/connect";
import type { ConnectionLimits } from "./settings.js";
import { streamAgeJitter } from "./settings.js";
import { createStreamAgeInterceptor } from "./stream-age.js";
import { createStreamLimiter, type StreamLimiter } from "./stream-limiter.js";

/** What `createRequestHandler` takes as its `hardening` option. */
export interface RequestHardening {
  /** Largest request message in bytes. */
  readonly readMaxBytes: number;
  /** Interceptors placed right inside the error interceptor, outermost first. */
  readonly interceptors: readonly Interceptor[];
}

/**
 * Builds the request hardening of one server from its limits; `streams` are
 * the counters behind `activeStreams`.
 *
 * @example
 * const { hardening, streams } = createRequestHardening(resolveConnectionLimits(config));
 */
export function createRequestHardening(limits: ConnectionLimits): {
  hardening: RequestHardening;
  streams: StreamLimiter;
} {
  const streams = createStreamLimiter(limits.maxStreamsPerUser);
  return {
    streams,
    hardening: {
      readMaxBytes: limits.maxMessageBytes,
      interceptors: [
        createStreamAgeInterceptor({ maxAgeMs: limits.maxStreamAgeMs, jitter: streamAgeJitter }),
        streams.interceptor,
      ],
    },
  };
}
