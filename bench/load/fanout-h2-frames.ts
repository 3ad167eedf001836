/**
 * Encoding pieces of the load generator's HTTP/2 client (fanout-h2-wire.ts):
 * frame and setting codes (RFC 9113), frame headers, WINDOW_UPDATE frames,
 * HPACK literals (RFC 7541) and gRPC envelopes.
 *
 * @module
 */

/** Frame types, flags and setting ids (RFC 9113, sections 6 and 6.5.2). */
export const frameData = 0;
export const frameHeaders = 1;
export const frameRstStream = 3;
export const frameSettings = 4;
export const framePing = 6;
export const frameGoaway = 7;
export const frameWindowUpdate = 8;
export const flagEndStream = 0x1;
export const flagAck = 0x1;
export const flagEndHeaders = 0x4;
export const flagPadded = 0x8;
export const settingMaxConcurrentStreams = 0x3;
export const settingEnablePush = 0x2;
export const settingInitialWindowSize = 0x4;

/**
 * Frames one gRPC message (uncompressed).
 *
 * @example
 * const body = grpcEnvelope(toBinary(SubscribeRequestSchema, request));
 */
export function grpcEnvelope(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.byteLength);
  out[0] = 0;
  out.writeUInt32BE(bytes.byteLength, 1);
  out.set(bytes, 5);
  return out;
}

/**
 * A 9-byte frame header.
 *
 * @example
 * socket.write(Buffer.concat([frameHeader(body.length, frameData, flagEndStream, id), body]));
 */
export function frameHeader(length: number, type: number, flags: number, id: number): Buffer {
  const head = Buffer.allocUnsafe(9);
  head[0] = (length >>> 16) & 0xff;
  head[1] = (length >>> 8) & 0xff;
  head[2] = length & 0xff;
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return head;
}

/**
 * A WINDOW_UPDATE frame for stream `id` (0: the connection).
 *
 * @example
 * socket.write(windowUpdate(0, consumed));
 */
export function windowUpdate(id: number, increment: number): Buffer {
  const frame = Buffer.allocUnsafe(13);
  frameHeader(4, frameWindowUpdate, 0, id).copy(frame, 0);
  frame.writeUInt32BE(increment, 9);
  return frame;
}

/**
 * HPACK "literal header field without indexing — new name", strings not
 * Huffman-coded: no header table is involved on either side.
 *
 * @example
 * const block = Buffer.concat([hpackLiteral(":method", "POST"), hpackLiteral(":path", path)]);
 */
export function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name, "latin1");
  const v = Buffer.from(value, "latin1");
  return Buffer.concat([Buffer.of(0), hpackInteger(n.length), n, hpackInteger(v.length), v]);
}

/** An HPACK integer with a 7-bit prefix (RFC 7541, 5.1), H bit clear. */
function hpackInteger(value: number): Buffer {
  if (value < 127) return Buffer.of(value);
  const bytes = [127];
  let rest = value - 127;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
