/**
 * A minimal WebSocket client for load generation, written directly on a TCP
 * socket: the HTTP/1.1 upgrade, then server frames are read into one buffer
 * shared by every socket of the process (`onread`, no per-read allocation or
 * stream machinery), walked in place and only counted — a message's bytes
 * are copied out only when the caller asks for them (sampling). Client frames are masked as RFC 6455 requires.
 * Pings are answered; no extensions (no permessage-deflate).
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import net from "node:net";

/** Every socket reads into this buffer; callbacks copy what they keep. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

const opContinuation = 0x0;
const opClose = 0x8;
const opPing = 0x9;

/** What a connection tells its user. Callbacks run on the read path: keep them cheap. */
export interface WsWireHandler {
  /** At the start of each message (0-based): return true to get its bytes. */
  wantBody(index: number): boolean;
  /** Each complete text or binary message; `body` only when `wantBody` returned true. */
  onMessage(index: number, body: Buffer | undefined): void;
  /** The connection closed (close frame or socket end). */
  onClose(): void;
}

/** One WebSocket connection. */
export interface WsWire {
  /** Sends one text message. */
  send(text: string): void;
  /** Closes the socket. */
  close(): void;
}

/**
 * Connects and upgrades; resolves once the server answered 101.
 *
 * @example
 * const ws = await connectWsWire({ host: "127.0.0.1", port, path: "/?room=a" }, handler);
 */
export function connectWsWire(
  opts: { readonly host: string; readonly port: number; readonly path: string },
  handler: WsWireHandler,
): Promise<WsWire> {
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
    let upgraded = false;
    let closed = false;
    let pending: Buffer | undefined;
    let index = 0;
    let fragments: Buffer[] | undefined;
    let wantFragments = false;

    const close = () => {
      if (closed) return;
      closed = true;
      handler.onClose();
    };

    const wire: WsWire = {
      send(text) {
        socket.write(maskedFrame(0x1, Buffer.from(text)));
      },
      close() {
        socket.destroy();
      },
    };

    const onFrames = (buf: Buffer) => {
      let p = 0;
      while (buf.length - p >= 2) {
        const b0 = buf[p]!;
        const b1 = buf[p + 1]!;
        let length = b1 & 0x7f;
        let head = 2;
        if (length === 126) {
          if (buf.length - p < 4) break;
          length = buf.readUInt16BE(p + 2);
          head = 4;
        } else if (length === 127) {
          if (buf.length - p < 10) break;
          length = buf.readUInt32BE(p + 2) * 2 ** 32 + buf.readUInt32BE(p + 6);
          head = 10;
        }
        if (buf.length - p < head + length) break;
        const start = p + head;
        const end = start + length;
        p = end;
        const opcode = b0 & 0x0f;
        const fin = (b0 & 0x80) !== 0;
        if (opcode >= 0x8) {
          if (opcode === opPing) socket.write(maskedFrame(0xa, buf.subarray(start, end)));
          else if (opcode === opClose) socket.end();
          continue;
        }
        if (opcode !== opContinuation) {
          wantFragments = handler.wantBody(index);
          fragments = wantFragments ? [] : undefined;
        }
        if (wantFragments) fragments?.push(Buffer.from(buf.subarray(start, end)));
        if (fin) {
          const parts = fragments;
          fragments = undefined;
          const body =
            parts === undefined ? undefined : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
          handler.onMessage(index++, body);
        }
      }
      pending = p < buf.length ? Buffer.from(buf.subarray(p)) : undefined;
    };

    // `chunk` is the shared read buffer: anything kept past this call is copied.
    const onRead = (chunk: Buffer) => {
      const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      if (upgraded) {
        onFrames(buf);
        return;
      }
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        pending = Buffer.from(buf);
        return;
      }
      const status = buf.subarray(0, buf.indexOf("\r\n")).toString("latin1");
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        socket.destroy();
        reject(new Error(`WebSocket upgrade refused: ${status}`));
        return;
      }
      upgraded = true;
      pending = undefined;
      resolve(wire);
      onFrames(buf.subarray(end + 4));
    };
    socket.on("error", (e) => {
      if (!upgraded) reject(e);
    });
    socket.on("close", () => {
      if (!upgraded) reject(new Error("WebSocket closed before the upgrade"));
      close();
    });
    socket.write(
      `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n` +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    );
  });
}

/** One final, masked client frame. */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const head = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + 4 + length);
  frame[0] = 0x80 | opcode;
  if (head === 2) frame[1] = 0x80 | length;
  else if (head === 4) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  const mask = randomBytes(4);
  mask.copy(frame, head);
  for (let i = 0; i < length; i++) frame[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}
