/**
 * Reads a request body into memory, up to a byte limit, with plain stream
 * events (no async iteration machinery per request).
 *
 * @module
 */

import type { Readable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";

/** What {@link readBody} read. */
export interface BodyRead {
  readonly chunks: Buffer[];
  readonly bytes: number;
  /**
   * True when the body ended within the limit. False when it grew past the
   * limit (the stream is paused, the rest unread) or the stream failed or
   * closed first; the caller then hands chunks and stream to the library.
   */
  readonly complete: boolean;
}

/**
 * Reads `req` until it ends, exceeds `maxBytes`, or `keepReading` (asked
 * after each chunk) says the body is already known to be irregular; in the
 * last two cases the stream is paused with the rest unread.
 *
 * @example
 * const body = await readBody(req, 4 << 20);
 */
export function readBody(
  req: Readable,
  maxBytes: number,
  keepReading?: (chunks: readonly Buffer[], bytes: number) => boolean,
): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const finish = (complete: boolean) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onFail);
      req.off("close", onFail);
      resolve({ chunks, bytes, complete });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > maxBytes || (keepReading !== undefined && !keepReading(chunks, bytes))) {
        req.pause();
        finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onFail = () => finish(false);
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onFail);
    req.on("close", onFail);
  });
}

/**
 * The body again, for the library: the chunks already read, then whatever
 * the stream still delivers.
 *
 * @example
 * universalRequestFromNodeRequest(req, res, replayBody(read, req), values);
 */
export async function* replayBody(read: BodyRead, req: Readable): AsyncIterable<Uint8Array> {
  yield* read.chunks;
  if (read.complete) return;
  // The client went away mid-body: fail as reading a torn-down stream does.
  if (req.destroyed) throw new ConnectError("request body aborted", Code.Aborted);
  for await (const chunk of req) yield chunk as Uint8Array;
}

/** The chunks as one buffer (no copy for a single chunk). */
export function joinChunks(read: BodyRead): Buffer {
  return read.chunks.length === 1 ? read.chunks[0]! : Buffer.concat(read.chunks, read.bytes);
}

/**
 * A `keepReading` check for enveloped bodies: stop as soon as the first
 * envelope's header shows a compressed flag or a length above
 * `readMaxBytes` — the library answers those without waiting for the body.
 *
 * @example
 * await readBody(req, limit, plainEnvelope(readMaxBytes));
 */
export function plainEnvelope(
  readMaxBytes: number,
): (chunks: readonly Buffer[], bytes: number) => boolean {
  return (chunks, bytes) => {
    if (bytes < 5) return true;
    const head = chunks[0]!.length >= 5 ? chunks[0]! : Buffer.concat(chunks as Buffer[], bytes);
    return head[0] === 0 && head.readUInt32BE(1) <= readMaxBytes;
  };
}
