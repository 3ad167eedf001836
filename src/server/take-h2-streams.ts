/**
 * Lets a handler take HTTP/2 streams before node's compatibility layer
 * wraps them in `Http2ServerRequest`/`Http2ServerResponse`.
 *
 * An HTTP/2 server created with a request listener serves requests through
 * one `stream` listener of its own (node's compat layer: it creates the
 * request and response objects and emits `request`). This replaces that
 * listener with one that first offers each stream to `take`; a stream it
 * does not take — or hands back later with `handOver`, before writing
 * anything — goes to node's listener exactly as before, so every request
 * the handler leaves alone is served by the compat layer and the request
 * listener unchanged.
 *
 * If the server does not have exactly one `stream` listener (node changed
 * how its compat layer attaches), nothing is replaced and every stream
 * takes the compat path.
 *
 * @module
 */

import type { IncomingHttpHeaders } from "node:http";
import type { Http2SecureServer, Http2Server, ServerHttp2Stream } from "node:http2";

/**
 * Offered every new HTTP/2 request stream; returns true when it takes it.
 * `handOver` gives a taken stream to the compat layer after all (at most
 * once, and only before anything was written to it).
 */
export type H2StreamTaker = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  handOver: () => void,
) => boolean;

type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
  rawHeaders: string[],
) => void;

/**
 * Puts `take` in front of the compat layer of `server` (call right after
 * creating it with its request listener). Returns false, changing nothing,
 * when the compat layer is not where it is expected.
 *
 * @example
 * const h2 = http2.createServer({}, handler);
 * takeH2Streams(h2, (stream, headers, handOver) => fast.handleStream(stream, headers, handOver));
 */
export function takeH2Streams(
  server: Http2Server | Http2SecureServer,
  take: H2StreamTaker,
): boolean {
  const listeners = server.listeners("stream");
  if (listeners.length !== 1) return false;
  const compat = listeners[0] as StreamListener;
  server.removeListener("stream", compat);
  server.on("stream", function onStream(this: unknown, stream, headers, flags, rawHeaders) {
    const handOver = () => compat.call(this, stream, headers, flags, rawHeaders);
    if (!take(stream, headers, handOver)) handOver();
  } as StreamListener);
  return true;
}
