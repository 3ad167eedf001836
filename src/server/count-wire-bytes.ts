/**
 * Counts the bytes of one HTTP request body and its response body as they
 * cross the wire (after compression, without HTTP headers), for the per-RPC
 * log line. Node offers no per-stream byte counters for HTTP/2, so the
 * request's `read` and the response's `write`/`end` are wrapped on this one
 * request and response object; nothing else changes.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

/** Byte counts of one exchange. */
export interface WireBytes {
  /** Request body bytes read so far. */
  readonly bytesIn: number;
  /** Response body bytes written so far. */
  readonly bytesOut: number;
  /** Calls `fn` once the response is closed (at once when it already is). */
  onClose(fn: () => void): void;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/**
 * Starts counting the bytes of `req` and `res`.
 *
 * @example
 * const wire = countWireBytes(req, res);
 * wire.onClose(() => console.log(wire.bytesIn, wire.bytesOut));
 */
export function countWireBytes(req: Req, res: Res): WireBytes {
  let bytesIn = 0;
  let bytesOut = 0;
  const size = (chunk: unknown): number =>
    typeof chunk === "string"
      ? Buffer.byteLength(chunk)
      : chunk instanceof Uint8Array
        ? chunk.byteLength
        : 0;
  const read = req.read;
  req.read = function countedRead(this: Req, n?: number) {
    const chunk: unknown = read.call(this, n);
    if (chunk !== null) bytesIn += size(chunk);
    return chunk;
  };
  const write = res.write as (...args: unknown[]) => boolean;
  (res as { write: unknown }).write = function countedWrite(this: Res, ...args: unknown[]) {
    bytesOut += size(args[0]);
    return write.apply(this, args);
  };
  const end = res.end as (...args: unknown[]) => Res;
  (res as { end: unknown }).end = function countedEnd(this: Res, ...args: unknown[]) {
    if (typeof args[0] !== "function") bytesOut += size(args[0]);
    return end.apply(this, args);
  };
  let closed = false;
  const waiting: (() => void)[] = [];
  res.once("close", () => {
    closed = true;
    for (const fn of waiting.splice(0)) fn();
  });
  return {
    get bytesIn() {
      return bytesIn;
    },
    get bytesOut() {
      return bytesOut;
    },
    onClose(fn) {
      if (closed) fn();
      else waiting.push(fn);
    },
  };
}
