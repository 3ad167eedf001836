/**
 * The wire format of the WebSocket tunnel (docs/tunnel.md), shared by the
 * client transport and the server. Transport-agnostic: no Node APIs.
 *
 * Every WebSocket binary message is one frame: a 4-byte big-endian stream id
 * followed by exactly one Connect-style envelope (1 flags byte, 4-byte
 * big-endian payload length, payload).
 *
 * @module
 */

/** The URL path the server accepts WebSocket upgrades on. */
export const tunnelPath = "/switchboard.tunnel.v1";

/** Bytes before a frame's payload: stream id (4), flags (1), length (4). */
export const tunnelFrameHeaderBytes = 9;

/** Frame kinds (the envelope's flags byte). Any other value is a protocol error. */
export const TunnelFlag = {
  /** A protobuf message (both directions). */
  message: 0x00,
  /** A compressed protobuf message; the tunnel negotiates no compression, so the server rejects it. */
  compressedMessage: 0x01,
  /** Client: end of its messages (half-close). Server: the call's Connect EndStreamResponse JSON. */
  end: 0x02,
  /** Client: opens a call (JSON `{method, headers}`). Server: the call's response headers (JSON `{headers}`). */
  open: 0x40,
  /** Client: cancels the call; the server sends nothing more for it. */
  cancel: 0x41,
  /** Client, stream 0: keepalive probe; the server answers with `pong` and the same payload. */
  ping: 0x42,
  /** Server, stream 0: answer to `ping`. */
  pong: 0x43,
} as const;

/** One of {@link TunnelFlag}'s values. */
export type TunnelFlag = (typeof TunnelFlag)[keyof typeof TunnelFlag];

/** A decoded frame. */
export interface TunnelFrame {
  /** 0 for connection-level frames, otherwise the call's id (chosen by the client). */
  readonly streamId: number;
  readonly flags: number;
  readonly payload: Uint8Array;
}

/** The JSON payload of an `open` frame from the client. */
export interface TunnelOpen {
  /** The request path, e.g. `/switchboard.chat.v1.ChatService/Chat`. */
  readonly method: string;
  /** Request headers, lower- or mixed-case names; e.g. `authorization`, `connect-timeout-ms`. */
  readonly headers?: Record<string, string | string[]>;
}

/** A frame that cannot be decoded; `message` says why. */
export class TunnelFrameError extends Error {
  override name = "TunnelFrameError";
}

/**
 * Encodes one frame.
 *
 * @example
 * socket.send(encodeTunnelFrame(1, TunnelFlag.message, bytes));
 */
export function encodeTunnelFrame(
  streamId: number,
  flags: number,
  payload?: Uint8Array,
): Uint8Array {
  const length = payload?.byteLength ?? 0;
  const frame = new Uint8Array(tunnelFrameHeaderBytes + length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, streamId);
  view.setUint8(4, flags);
  view.setUint32(5, length);
  if (payload) frame.set(payload, tunnelFrameHeaderBytes);
  return frame;
}

/**
 * Encodes a frame whose payload is JSON.
 *
 * @example
 * socket.send(encodeTunnelJsonFrame(1, TunnelFlag.open, { method, headers }));
 */
export function encodeTunnelJsonFrame(streamId: number, flags: number, value: unknown): Uint8Array {
  return encodeTunnelFrame(streamId, flags, new TextEncoder().encode(JSON.stringify(value)));
}

/**
 * Decodes one WebSocket message into a frame. The length prefix must match
 * the bytes that follow exactly.
 *
 * @throws TunnelFrameError when the message is shorter than a header or the
 * length prefix does not match.
 *
 * @example
 * const frame = decodeTunnelFrame(new Uint8Array(event.data));
 */
export function decodeTunnelFrame(data: Uint8Array): TunnelFrame {
  if (data.byteLength < tunnelFrameHeaderBytes) {
    throw new TunnelFrameError(
      `frame of ${data.byteLength} bytes is shorter than the ${tunnelFrameHeaderBytes}-byte header`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const streamId = view.getUint32(0);
  const flags = view.getUint8(4);
  const length = view.getUint32(5);
  const actual = data.byteLength - tunnelFrameHeaderBytes;
  if (length !== actual) {
    throw new TunnelFrameError(`envelope promises ${length} bytes but the frame carries ${actual}`);
  }
  return { streamId, flags, payload: data.subarray(tunnelFrameHeaderBytes) };
}

/** True for the flag values defined by {@link TunnelFlag}. */
export function isKnownTunnelFlag(flags: number): flags is TunnelFlag {
  return Object.values(TunnelFlag).includes(flags as TunnelFlag);
}
