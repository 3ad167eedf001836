/**
 * A minimal HTTP/2 cleartext (prior knowledge) gRPC client for load
 * generation, written directly on a TCP socket so that receiving is much
 * cheaper per message than on the server: one socket read carries many
 * frames of many streams, read into one buffer shared by every socket of
 * the process (`onread`, no per-read allocation or stream machinery); DATA
 * frames are walked in place and gRPC envelopes are only counted — a
 * message's bytes are copied out only when the caller asks for them
 * (sampling).
 *
 * What it does: the connection preface and SETTINGS (no push, 1 MiB stream
 * windows, a 1 GiB connection window topped up as data is consumed),
 * SETTINGS and PING acknowledgements, GOAWAY, RST_STREAM, and requests whose
 * HEADERS use HPACK literals without indexing (so no header table is needed
 * either way). Response headers are never decoded: a call ends "end" on a
 * HEADERS or DATA frame with END_STREAM (trailers), "reset" on RST_STREAM,
 * "lost" when the connection goes. Whether the gRPC status was OK is not
 * checked here; callers verify a sample of messages with the real schema.
 *
 * @module
 */
import net from "node:net";
import {
  flagAck,
  flagEndHeaders,
  flagEndStream,
  flagPadded,
  frameData,
  frameGoaway,
  frameHeader,
  frameHeaders,
  framePing,
  frameRstStream,
  frameSettings,
  hpackLiteral,
  settingEnablePush,
  settingInitialWindowSize,
  settingMaxConcurrentStreams,
  windowUpdate,
} from "./fanout-h2-frames.js";

export { grpcEnvelope } from "./fanout-h2-frames.js";

/** Receive window per stream; a WINDOW_UPDATE follows each half consumed. */
const streamWindow = 1 << 20;
/** Receive window of the connection; topped up after each quarter consumed. */
const connectionWindow = 1 << 30;

/** Every socket reads into this buffer; callbacks copy what they keep. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** What a call tells its user. All callbacks run on the socket's read path: keep them cheap. */
export interface WireCallHandler {
  /** At the start of each response message (0-based): return true to get its bytes. */
  wantBody(index: number): boolean;
  /** Each complete response message; `body` only when `wantBody` returned true. */
  onMessage(index: number, body: Buffer | undefined): void;
  /** The call ended: END_STREAM ("end"), RST_STREAM ("reset") or connection loss ("lost"). */
  onClose(how: "end" | "reset" | "lost"): void;
}

/** One call in flight. */
export interface WireCall {
  /** The HTTP/2 stream id. */
  readonly id: number;
  /** Sends RST_STREAM (CANCEL) unless the call already ended. */
  cancel(): void;
}

/** One h2c connection. */
export interface WireConnection {
  /** Starts a call: HEADERS for `path`, then `body` (one gRPC envelope or more) with END_STREAM. */
  call(path: string, body: Buffer, handler: WireCallHandler): WireCall;
  /** Calls started and not yet ended. */
  readonly open: number;
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (Infinity when it sets none). */
  readonly maxConcurrentStreams: number;
  /** True once the socket closed or the server sent GOAWAY. */
  readonly gone: boolean;
  /** Closes the socket; open calls end "lost". */
  close(): void;
}

/** Options of {@link connectWire}. */
export interface WireOptions {
  readonly host: string;
  readonly port: number;
  /** Extra request headers (lower-case names), e.g. `{ authorization: "Bearer …" }`. */
  readonly headers?: Readonly<Record<string, string>>;
}

interface CallState {
  readonly id: number;
  readonly handler: WireCallHandler;
  /** Bytes of the current envelope header seen so far (0-4). */
  headerHave: number;
  readonly header: Buffer;
  /** Body bytes of the current envelope still to come. */
  bodyLeft: number;
  /** Parts of the current body, when it is wanted. */
  parts: Buffer[] | undefined;
  index: number;
  /** Bytes consumed since the last stream WINDOW_UPDATE. */
  unacked: number;
}

/**
 * Opens an h2c connection and resolves once the server's SETTINGS arrived.
 *
 * @example
 * const conn = await connectWire({ host: "127.0.0.1", port, headers: { authorization: `Bearer ${token}` } });
 * conn.call("/switchboard.chat.v1.ChatService/Subscribe", body, handler);
 */
export function connectWire(opts: WireOptions): Promise<WireConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: opts.host,
      port: opts.port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (n) => {
          onRead(readBuffer.subarray(0, n));
          return true;
        },
      },
    });
    const calls = new Map<number, CallState>();
    const blocks = new Map<string, Buffer>();
    const fixedHeaders: [string, string][] = [
      [":method", "POST"],
      [":scheme", "http"],
      [":authority", `${opts.host}:${opts.port}`],
    ];
    const extraHeaders: [string, string][] = [
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ...Object.entries(opts.headers ?? {}),
    ];
    let nextId = 1;
    let gone = false;
    let settled = false;
    let maxStreams = Number.POSITIVE_INFINITY;
    let pending: Buffer | undefined;
    let connUnacked = 0;
    let out: Buffer[] = [];

    const headerBlock = (path: string): Buffer => {
      let block = blocks.get(path);
      if (block === undefined) {
        const parts = [...fixedHeaders, [":path", path] as [string, string], ...extraHeaders];
        block = Buffer.concat(parts.map(([name, value]) => hpackLiteral(name, value)));
        blocks.set(path, block);
      }
      return block;
    };

    const finish = (id: number, how: "end" | "reset" | "lost") => {
      const state = calls.get(id);
      if (state === undefined) return;
      calls.delete(id);
      state.handler.onClose(how);
    };

    const onData = (state: CallState, buf: Buffer, from: number, to: number) => {
      let p = from;
      while (p < to) {
        if (state.bodyLeft > 0) {
          const take = Math.min(state.bodyLeft, to - p);
          state.parts?.push(Buffer.from(buf.subarray(p, p + take)));
          state.bodyLeft -= take;
          p += take;
          if (state.bodyLeft === 0) completeMessage(state);
          continue;
        }
        state.header[state.headerHave++] = buf[p++]!;
        if (state.headerHave === 5) {
          state.headerHave = 0;
          const length = state.header.readUInt32BE(1);
          state.parts = state.handler.wantBody(state.index) ? [] : undefined;
          if (length === 0) completeMessage(state);
          else state.bodyLeft = length;
        }
      }
    };

    const completeMessage = (state: CallState) => {
      const parts = state.parts;
      state.parts = undefined;
      const body =
        parts === undefined ? undefined : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      state.handler.onMessage(state.index++, body);
    };

    const onFrame = (
      buf: Buffer,
      type: number,
      flags: number,
      id: number,
      s: number,
      e: number,
    ) => {
      switch (type) {
        case frameData: {
          const length = e - s;
          connUnacked += length;
          const state = calls.get(id);
          if (state !== undefined) {
            let from = s;
            let to = e;
            if (flags & flagPadded) {
              to -= buf[s]!;
              from += 1;
            }
            onData(state, buf, from, to);
            state.unacked += length;
            if (flags & flagEndStream) finish(id, "end");
            else if (state.unacked >= streamWindow / 2) {
              out.push(windowUpdate(id, state.unacked));
              state.unacked = 0;
            }
          }
          if (connUnacked >= connectionWindow / 4) {
            out.push(windowUpdate(0, connUnacked));
            connUnacked = 0;
          }
          return;
        }
        case frameHeaders:
          if (flags & flagEndStream) finish(id, "end");
          return;
        case frameRstStream:
          finish(id, "reset");
          return;
        case frameSettings:
          if (flags & flagAck) return;
          for (let p = s; p + 6 <= e; p += 6) {
            if (buf.readUInt16BE(p) === settingMaxConcurrentStreams)
              maxStreams = buf.readUInt32BE(p + 2);
          }
          out.push(frameHeader(0, frameSettings, flagAck, 0));
          if (!settled) {
            settled = true;
            resolve(connection);
          }
          return;
        case framePing:
          if (!(flags & flagAck)) {
            out.push(frameHeader(8, framePing, flagAck, 0), Buffer.from(buf.subarray(s, s + 8)));
          }
          return;
        case frameGoaway: {
          gone = true;
          const last = buf.readUInt32BE(s) & 0x7fffffff;
          for (const id of [...calls.keys()]) if (id > last) finish(id, "lost");
          return;
        }
        default:
          return; // PRIORITY, WINDOW_UPDATE, CONTINUATION, unknown: nothing to do.
      }
    };

    // `chunk` is the shared read buffer: anything kept past this call is copied.
    const onRead = (chunk: Buffer) => {
      const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      let p = 0;
      while (buf.length - p >= 9) {
        const length = (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
        if (buf.length - p < 9 + length) break;
        const id = buf.readUInt32BE(p + 5) & 0x7fffffff;
        onFrame(buf, buf[p + 3]!, buf[p + 4]!, id, p + 9, p + 9 + length);
        p += 9 + length;
      }
      pending = p < buf.length ? Buffer.from(buf.subarray(p)) : undefined;
      if (out.length > 0) {
        socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
        out = [];
      }
    };
    socket.on("error", (e) => {
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
    socket.on("close", () => {
      gone = true;
      if (!settled) {
        settled = true;
        reject(new Error(`h2c connection to ${opts.host}:${opts.port} closed before SETTINGS`));
      }
      for (const id of [...calls.keys()]) finish(id, "lost");
    });

    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(settingEnablePush, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(settingInitialWindowSize, 6);
    settings.writeUInt32BE(streamWindow, 8);
    socket.write(
      Buffer.concat([
        preface,
        frameHeader(settings.length, frameSettings, 0, 0),
        settings,
        windowUpdate(0, connectionWindow - 65_535),
      ]),
    );

    const connection: WireConnection = {
      call(path, body, handler) {
        if (gone) throw new Error("h2c connection is gone");
        const id = nextId;
        nextId += 2;
        calls.set(id, {
          id,
          handler,
          headerHave: 0,
          header: Buffer.alloc(5),
          bodyLeft: 0,
          parts: undefined,
          index: 0,
          unacked: 0,
        });
        const block = headerBlock(path);
        socket.write(
          Buffer.concat([
            frameHeader(block.length, frameHeaders, flagEndHeaders, id),
            block,
            frameHeader(body.length, frameData, flagEndStream, id),
            body,
          ]),
        );
        return {
          id,
          cancel() {
            if (!calls.has(id)) return;
            calls.delete(id);
            const rst = Buffer.alloc(4);
            rst.writeUInt32BE(0x8, 0); // CANCEL
            socket.write(Buffer.concat([frameHeader(4, frameRstStream, 0, id), rst]));
          },
        };
      },
      get open() {
        return calls.size;
      },
      get maxConcurrentStreams() {
        return maxStreams;
      },
      get gone() {
        return gone;
      },
      close() {
        socket.destroy();
      },
    };
  });
}
