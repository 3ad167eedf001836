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
import { closeTarget, type H2StreamResponse } from "./fast/h2-stream-response.js";

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

/** Byte counts that the code moving the bytes adds to itself (the fast path). */
export interface WireTally extends WireBytes {
  addIn(n: number): void;
  addOut(n: number): void;
}

/**
 * Creates byte counts for one exchange, closed with `res`; the caller adds
 * the bytes it reads and writes (no wrapping).
 *
 * @example
 * const tally = createWireTally(res);
 * tally.addIn(body.byteLength);
 */
export function createWireTally(res: Res | H2StreamResponse): WireTally {
  const tally = new Tally();
  // One listener function for every response: no closure per exchange. It
  // finds the tally on the object it runs on (the stream for a stream response).
  (closeTarget(res) as { [kTally]?: Tally })[kTally] = tally;
  res.on("close", closeTally);
  return tally;
}

/** Where a response keeps its tally, for {@link closeTally}. */
const kTally = Symbol("switchboard wire tally");

/** The responses' "close" listener (`this` is the response). */
function closeTally(this: { [kTally]?: Tally }): void {
  this[kTally]?.close();
}

class Tally implements WireTally {
  bytesIn = 0;
  bytesOut = 0;
  private closed = false;
  private waiting: (() => void) | (() => void)[] | undefined = undefined;

  addIn(n: number): void {
    this.bytesIn += n;
  }

  addOut(n: number): void {
    this.bytesOut += n;
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else if (this.waiting === undefined) this.waiting = fn;
    else if (Array.isArray(this.waiting)) this.waiting.push(fn);
    else this.waiting = [this.waiting, fn];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (typeof waiting === "function") waiting();
    else if (waiting !== undefined) for (const fn of waiting) fn();
  }
}

/**
 * Starts counting the bytes of `req` and `res` by wrapping the request's
 * `read` and the response's `write`/`end`, into `tally` (a new one unless
 * given: the fast path hands over the one it started when it passes a
 * request on to the library).
 *
 * @example
 * const wire = countWireBytes(req, res);
 */
export function countWireBytes(
  req: Req,
  res: Res,
  tally: WireTally = createWireTally(res),
): WireTally {
  const size = (chunk: unknown): number =>
    typeof chunk === "string"
      ? Buffer.byteLength(chunk)
      : chunk instanceof Uint8Array
        ? chunk.byteLength
        : 0;
  const read = req.read;
  req.read = function countedRead(this: Req, n?: number) {
    const chunk: unknown = read.call(this, n);
    if (chunk !== null) tally.addIn(size(chunk));
    return chunk;
  };
  const write = res.write as (...args: unknown[]) => boolean;
  (res as { write: unknown }).write = function countedWrite(this: Res, ...args: unknown[]) {
    tally.addOut(size(args[0]));
    return write.apply(this, args);
  };
  const end = res.end as (...args: unknown[]) => Res;
  (res as { end: unknown }).end = function countedEnd(this: Res, ...args: unknown[]) {
    if (typeof args[0] !== "function") tally.addOut(size(args[0]));
    return end.apply(this, args);
  };
  return tally;
}
