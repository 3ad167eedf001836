/**
 * Hand-made HTTP/2 frames (RFC 9113) for abuse that `node:http2` refuses to
 * send: DATA after END_STREAM, random frames, lying frame lengths. Headers
 * are HPACK literals without indexing or Huffman coding (RFC 7541, 6.2.2).
 *
 * @module
 */
import { concat } from "./wire.js";

/** Frame types used by the fuzzer. */
export const frameType = {
  data: 0,
  headers: 1,
  rstStream: 3,
  settings: 4,
  goaway: 7,
} as const;

/** Frame flags. */
export const flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;

/** One frame: 9-byte header (length may lie) and payload. */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array,
  length = payload.length,
): Uint8Array {
  const head = Buffer.alloc(9);
  head.writeUIntBE(length & 0xffffff, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId >>> 0, 5);
  return concat(head, payload);
}

function hpackInt(n: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (n < max) return [first | n];
  const out = [first | max];
  let v = n - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** An HPACK header block of literal fields without indexing. */
export function hpack(headers: readonly (readonly [string, string])[]): Uint8Array {
  const parts: number[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name, "latin1");
    const v = Buffer.from(value, "latin1");
    parts.push(0x00, ...hpackInt(n.length, 7, 0), ...n, ...hpackInt(v.length, 7, 0), ...v);
  }
  return Uint8Array.from(parts);
}

/** A frame header parsed from the server's bytes. */
export interface ParsedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Splits the server's bytes into frames (a trailing partial frame is dropped). */
export function parseFrames(bytes: Buffer): ParsedFrame[] {
  const out: ParsedFrame[] = [];
  let at = 0;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) break;
    out.push({
      type: bytes[at + 3] as number,
      flags: bytes[at + 4] as number,
      streamId: bytes.readUInt32BE(at + 5) & 0x7fffffff,
      payload: bytes.subarray(at + 9, at + 9 + length),
    });
    at += 9 + length;
  }
  return out;
}

/** The error code of a RST_STREAM or GOAWAY frame. */
export function errorCodeOf(f: ParsedFrame): number | undefined {
  if (f.type === frameType.rstStream && f.payload.length >= 4) return f.payload.readUInt32BE(0);
  if (f.type === frameType.goaway && f.payload.length >= 8) return f.payload.readUInt32BE(4);
  return undefined;
}
