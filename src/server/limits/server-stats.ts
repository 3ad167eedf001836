/**
 * The server's own counters, for leak checks, soak runs and metrics. Each
 * read is a cheap snapshot of live state (no history, no allocation beyond
 * the returned object), so exporters may call it on every scrape.
 *
 * @module
 */

/** A snapshot of what a server holds right now. */
export interface ServerStats {
  /** Open TCP connections (HTTP/1.1 and HTTP/2, before and after protocol sniffing). */
  readonly openConnections: number;
  /** HTTP requests whose response has not closed yet (unary and streaming). */
  readonly activeRequests: number;
  /** Streaming calls of authenticated users in progress (Subscribe, Chat, Upload, Download). */
  readonly activeStreams: number;
  /** Open fan-out subscriptions (one per room of each Subscribe/Chat stream). */
  readonly activeSubscriptions: number;
  /** Uploads started and neither committed nor aborted. */
  readonly openUploads: number;
  /** Calls served by the fast path since start (see server/fast/fast-path.ts); a running total. */
  readonly fastPathCalls: number;
  /**
   * Of those, calls served straight from their HTTP/2 stream, without node's
   * compat request and response objects (take-h2-streams.ts); a running total.
   */
  readonly fastPathStreamCalls: number;
}

/** Where a snapshot's numbers come from. */
export interface ServerStatsSources {
  readonly listener: { readonly connections: number };
  readonly drain: { readonly inFlight: number };
  readonly streams: { readonly activeStreams: number };
  readonly backend: {
    readonly fanout: { readonly activeSubscriptions: number };
    readonly blobs: { readonly openUploads: number };
  };
  readonly fastPath: { readonly served: number; readonly fromStreams: number };
}

/**
 * Creates the `stats()` function of a server.
 *
 * @example
 * const stats = createServerStats({ listener, drain, streams: limiter, backend });
 * stats().activeSubscriptions;
 */
export function createServerStats(sources: ServerStatsSources): () => ServerStats {
  return () => ({
    openConnections: sources.listener.connections,
    activeRequests: sources.drain.inFlight,
    activeStreams: sources.streams.activeStreams,
    activeSubscriptions: sources.backend.fanout.activeSubscriptions,
    openUploads: sources.backend.blobs.openUploads,
    fastPathCalls: sources.fastPath.served,
    fastPathStreamCalls: sources.fastPath.fromStreams,
  });
}
