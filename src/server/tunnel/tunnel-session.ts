/**
 * One tunnel WebSocket on the server: decodes frames, runs the calls they
 * open (many at once, each with its own stream id), enforces the limits, and
 * turns every protocol violation into a clean `end` frame.
 *
 * Errors come in two sizes. A stream error (bad `open` JSON, unknown method,
 * oversize message, message after half-close, too many calls) ends only that
 * call with an `end` frame. A connection error (text message, frame shorter
 * than its header, lying length prefix, unknown flags, stream ids out of
 * order) ends every call with an `end` frame carrying the error, sends the
 * same `end` on stream 0, and closes the socket with 1002 (1003 for text).
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { endStreamToJson } from "@connectrpc/connect/protocol-connect";
import type { RawData, WebSocket } from "ws";
import {
  decodeTunnelFrame,
  encodeTunnelFrame,
  isKnownTunnelFlag,
  TunnelFlag,
  TunnelFrameError,
} from "../../client/tunnel-frame.js";
import { parseOpenFrame } from "./open-frame.js";
import { type ServerCall, startServerCall } from "./server-call.js";

/** Limits and timings of a tunnel socket. */
export interface TunnelLimits {
  /** Largest message payload, in bytes. Larger ones end their call with ResourceExhausted. */
  readonly maxMessageBytes: number;
  /** Calls open at once on one socket; more end with ResourceExhausted. */
  readonly maxCallsPerSocket: number;
  /** Interval of WebSocket pings; a socket that missed the previous pong is dropped. */
  readonly pingIntervalMs: number;
  /** A socket without calls for this long is closed (1000). */
  readonly idleTimeoutMs: number;
  /** Unread request bytes per socket above which reading the socket pauses. */
  readonly maxQueuedBytes: number;
  /** Buffered response bytes per socket above which calls wait before writing more. */
  readonly maxBufferedBytes: number;
}

/** Inputs of {@link runTunnelSession}. */
export interface TunnelSessionOptions {
  readonly socket: WebSocket;
  /** Connect handlers by request path. */
  readonly handlers: ReadonlyMap<string, UniversalHandler>;
  /** Base of the URLs handlers see, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  readonly limits: TunnelLimits;
  /** True while the server shuts down: new calls end with Unavailable. */
  readonly draining: () => boolean;
  /** Counts a call as in flight for graceful shutdown. */
  readonly trackCall?: () => () => void;
}

/** WebSocket close codes the tunnel uses (RFC 6455, section 7.4.1). */
export const TunnelCloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  messageTooBig: 1009,
  internalError: 1011,
} as const;

const encoder = new TextEncoder();

function endPayload(error: ConnectError): Uint8Array {
  return encoder.encode(JSON.stringify(endStreamToJson(new Headers(), error, undefined)));
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

/**
 * Serves tunnel calls on an open WebSocket until it closes.
 *
 * @example
 * wss.handleUpgrade(req, socket, head, (ws) => runTunnelSession({ socket: ws, handlers, baseUrl, limits, draining }));
 */
export function runTunnelSession(opts: TunnelSessionOptions): void {
  const { socket, limits } = opts;
  const calls = new Map<number, ServerCall>();
  let lastStreamId = 0;
  let queuedBytes = 0;
  let paused = false;
  let closed = false;
  let alive = true;
  let idleTimer: NodeJS.Timeout | undefined;

  const armIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    if (calls.size === 0 && !closed) {
      idleTimer = setTimeout(() => close(TunnelCloseCode.normal, "idle"), limits.idleTimeoutMs);
    }
  };
  const pinger = setInterval(() => {
    if (!alive) {
      socket.terminate();
      return;
    }
    alive = false;
    socket.ping();
  }, limits.pingIntervalMs);

  const close = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    socket.close(code, reason);
  };

  const write = (streamId: number, flags: number, payload?: Uint8Array): Promise<void> => {
    if (closed || socket.readyState !== socket.OPEN) return Promise.resolve();
    const frame = encodeTunnelFrame(streamId, flags, payload);
    if (socket.bufferedAmount + frame.byteLength <= limits.maxBufferedBytes) {
      socket.send(frame);
      return Promise.resolve();
    }
    return new Promise((resolve) => socket.send(frame, () => resolve()));
  };

  const onConsumed = (bytes: number) => {
    queuedBytes -= bytes;
    if (paused && queuedBytes <= limits.maxQueuedBytes / 2) {
      paused = false;
      socket.resume();
    }
  };

  const connectionError = (error: ConnectError, code: number) => {
    for (const call of [...calls.values()]) call.abort(error, false);
    void write(0, TunnelFlag.end, endPayload(error));
    close(code, error.rawMessage.slice(0, 120));
  };

  const streamError = (streamId: number, error: ConnectError) => {
    const call = calls.get(streamId);
    if (call) call.abort(error, false);
    else void write(streamId, TunnelFlag.end, endPayload(error));
  };

  const open = (streamId: number, payload: Uint8Array) => {
    if (opts.draining()) {
      return streamError(streamId, new ConnectError("server shutting down", Code.Unavailable));
    }
    if (calls.size >= limits.maxCallsPerSocket) {
      return streamError(
        streamId,
        new ConnectError(
          `too many concurrent calls on this tunnel (at most ${limits.maxCallsPerSocket})`,
          Code.ResourceExhausted,
        ),
      );
    }
    let request: ReturnType<typeof parseOpenFrame>;
    try {
      request = parseOpenFrame(payload);
    } catch (e) {
      return streamError(streamId, ConnectError.from(e, Code.InvalidArgument));
    }
    const handler = opts.handlers.get(request.path);
    if (!handler) {
      return streamError(
        streamId,
        new ConnectError(`unknown method ${request.path}`, Code.Unimplemented),
      );
    }
    const call = startServerCall({
      handler,
      url: opts.baseUrl + request.path,
      open: request,
      write: (flags, data) => write(streamId, flags, data),
      onEnd: () => {
        calls.delete(streamId);
        armIdle();
      },
      onConsumed,
      ...(opts.trackCall ? { track: opts.trackCall } : {}),
    });
    calls.set(streamId, call);
    armIdle();
  };

  const onFrame = (data: Uint8Array) => {
    const frame = decodeTunnelFrame(data);
    const { streamId, flags, payload } = frame;
    if (!isKnownTunnelFlag(flags)) {
      throw new TunnelFrameError(`unknown frame flags 0x${flags.toString(16).padStart(2, "0")}`);
    }
    if (streamId === 0) {
      if (flags !== TunnelFlag.ping) {
        throw new TunnelFrameError(
          `frame flags 0x${flags.toString(16)} are not allowed on stream 0`,
        );
      }
      void write(0, TunnelFlag.pong, payload.subarray(0, 125));
      return;
    }
    if (flags === TunnelFlag.open) {
      if (streamId <= lastStreamId) {
        throw new TunnelFrameError(
          `stream id ${streamId} is not above the previous ${lastStreamId}`,
        );
      }
      lastStreamId = streamId;
      return open(streamId, payload);
    }
    if (flags === TunnelFlag.ping || flags === TunnelFlag.pong) {
      throw new TunnelFrameError(
        `frame flags 0x${flags.toString(16)} are only allowed on stream 0`,
      );
    }
    const call = calls.get(streamId);
    if (!call) {
      // Frames of ended calls may still be in flight: dropped. Frames of
      // streams never opened are a protocol error.
      if (streamId > lastStreamId) {
        throw new TunnelFrameError(`frame for stream ${streamId} before its open frame`);
      }
      return;
    }
    switch (flags) {
      case TunnelFlag.cancel:
        return call.abort(new ConnectError("canceled by the client", Code.Canceled), true);
      case TunnelFlag.end:
        return call.endInput();
      default: {
        if (call.inputEnded) {
          return streamError(
            streamId,
            new ConnectError(
              "protocol error: message after the end of input",
              Code.InvalidArgument,
            ),
          );
        }
        if (payload.byteLength > limits.maxMessageBytes) {
          return streamError(
            streamId,
            new ConnectError(
              `message size ${payload.byteLength} is larger than configured readMaxBytes ${limits.maxMessageBytes}`,
              Code.ResourceExhausted,
            ),
          );
        }
        const envelope = data.subarray(4);
        queuedBytes += envelope.byteLength;
        call.input(envelope);
        if (!paused && queuedBytes > limits.maxQueuedBytes) {
          paused = true;
          socket.pause();
        }
      }
    }
  };

  socket.on("message", (data, isBinary) => {
    if (closed) return;
    alive = true;
    if (!isBinary) {
      return connectionError(
        new ConnectError("protocol error: text messages are not allowed", Code.InvalidArgument),
        TunnelCloseCode.unsupportedData,
      );
    }
    try {
      onFrame(toBytes(data));
    } catch (e) {
      if (e instanceof TunnelFrameError) {
        connectionError(
          new ConnectError(`protocol error: ${e.message}`, Code.InvalidArgument),
          TunnelCloseCode.protocolError,
        );
      } else {
        connectionError(
          new ConnectError("internal error", Code.Internal, undefined, undefined, e),
          TunnelCloseCode.internalError,
        );
      }
    }
  });
  socket.on("pong", () => {
    alive = true;
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
    clearInterval(pinger);
    clearTimeout(idleTimer);
    const gone = new ConnectError("tunnel closed", Code.Canceled);
    for (const call of [...calls.values()]) call.abort(gone, true);
    calls.clear();
  });
  armIdle();
}
