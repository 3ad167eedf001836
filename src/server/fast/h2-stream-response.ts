/**
 * The part of node's `Http2ServerResponse` the fast path uses, straight on
 * the HTTP/2 stream: for requests the fast path takes from the server's
 * `stream` event (see take-streams.ts), so no compat request and response
 * objects are created for them.
 *
 * Every call does to the stream what the compat response does, in the
 * same order, so the frames on the wire are the same: `writeHead` responds
 * with `waitForTrailers` (and node's `date` header), the body is written
 * with `stream.write`/`stream.end`, and on `wantTrailers` the trailers
 * added (or none) are sent. The events the fast path listens to ("close",
 * "drain") are the stream's own: the compat response re-emits exactly
 * those, from the stream's. Unlike compat, headers are not validated here:
 * the fast path only writes names and values connect's `Headers` accepted.
 *
 * @module
 */

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from "node:http2";

/** Where the trailers of a stream's response wait for "wantTrailers". */
const kTrailers = Symbol("switchboard response trailers");

type TrailerStream = ServerHttp2Stream & { [kTrailers]?: OutgoingHttpHeaders };

/** The options the compat response responds with (sendDate is the default). */
const respondOptions = Object.freeze({ waitForTrailers: true });

const noTrailers: OutgoingHttpHeaders = Object.freeze(Object.create(null));

/** "wantTrailers" listener of every stream (`this` is the stream), as compat's. */
function sendTrailers(this: TrailerStream): void {
  this.sendTrailers(this[kTrailers] ?? noTrailers);
}

/** A response written straight to an HTTP/2 stream; see the module comment. */
export class H2StreamResponse {
  private ending = false;

  constructor(readonly stream: ServerHttp2Stream) {}

  /** Sends the response headers (once), with `headers` given as node sends them. */
  writeHead(status: number, headers?: Readonly<OutgoingHttpHeaders>): this {
    const stream = this.stream;
    if (stream.headersSent || stream.destroyed || stream.closed) return this;
    // Node copies the object and fills in ":status" (200 when absent) and "date".
    const head = status === 200 ? (headers ?? {}) : { ...headers, ":status": status };
    stream.on("wantTrailers", sendTrailers);
    stream.respond(head as OutgoingHttpHeaders, respondOptions);
    return this;
  }

  /** Trailers to send after the body (any added before replace none). */
  addTrailers(trailers: Readonly<OutgoingHttpHeaders>): void {
    (this.stream as TrailerStream)[kTrailers] = trailers as OutgoingHttpHeaders;
  }

  /** Writes body bytes (headers first, if not sent); false under backpressure or once over. */
  write(chunk: Uint8Array): boolean {
    const stream = this.stream;
    if (this.ending || stream.destroyed || stream.closed) return false;
    if (!stream.headersSent) this.writeHead(200);
    return stream.write(chunk);
  }

  /**
   * Writes the last bytes, if any, and ends the body (the trailers follow).
   * The fast path always writes the head first, as the compat response
   * sends it then (without END_STREAM on the HEADERS frame).
   */
  end(chunk?: Uint8Array): this {
    if (this.ending) return this;
    if (chunk !== undefined) this.write(chunk);
    this.ending = true;
    const stream = this.stream;
    if (!stream.headersSent) this.writeHead(200);
    if (!stream.destroyed && !stream.closed) stream.end();
    return this;
  }

  /** Resets the stream. */
  destroy(): void {
    this.stream.destroy();
  }

  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  /** True once `end` was called. */
  get writableEnded(): boolean {
    return this.ending;
  }

  /** The stream's "close" (closed or reset) and "drain" events. */
  on(event: "close" | "drain", fn: () => void): this {
    this.stream.on(event, fn);
    return this;
  }

  once(event: "close" | "drain", fn: () => void): this {
    this.stream.once(event, fn);
    return this;
  }

  off(event: "close" | "drain", fn: () => void): this {
    this.stream.off(event, fn);
    return this;
  }
}

/**
 * The object whose "close" listeners run with `this` set to it: the stream
 * for an {@link H2StreamResponse} (its `on` hands listeners to the stream).
 *
 * @example
 * const target = closeTarget(res); target.on("close", listenerUsingThis);
 */
export function closeTarget<R extends object>(res: R | H2StreamResponse): object {
  return res instanceof H2StreamResponse ? res.stream : res;
}

/** What the fast path writes a response to: node's response, or an HTTP/2 stream it took. */
export type FastResponse = ServerResponse | Http2ServerResponse | H2StreamResponse;

/**
 * The calls the fast path makes on a response, with the same meaning on
 * each kind of {@link FastResponse}.
 */
export interface ResponseWriter {
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  addTrailers(trailers: OutgoingHttpHeaders): void;
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  end(chunk: Uint8Array): unknown;
  destroy(): void;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  on(event: "close" | "drain", fn: () => void): unknown;
  once(event: "close" | "drain", fn: () => void): unknown;
  off(event: "close" | "drain", fn: () => void): unknown;
}

/** What the fast path reads a request from: node's request, or an HTTP/2 stream it took. */
export type FastRequest = IncomingMessage | Http2ServerRequest | ServerHttp2Stream;

/**
 * The HTTP/2 stream of a request, if it came over HTTP/2.
 *
 * @example
 * const stream = h2StreamOf(req); stream?.close(constants.NGHTTP2_CANCEL);
 */
export function h2StreamOf(req: FastRequest): ServerHttp2Stream | undefined {
  if ("stream" in req) return req.stream;
  return "rstCode" in req ? req : undefined;
}
