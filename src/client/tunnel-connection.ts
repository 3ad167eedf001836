/**
 * The client side of one tunnel WebSocket, multiplexing calls by stream id
 * (docs/tunnel.md). Transport-agnostic: it drives any object shaped like the
 * browser `WebSocket` (the global one, or `ws` in Node).
 *
 * The socket is opened by the first call, reused by later ones, closed after
 * `idleTimeoutMs` without calls, and opened again by the next call. When it
 * closes, every call on it fails with `unavailable`.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFromJson } from "@connectrpc/connect/protocol-connect";
import {
  decodeTunnelFrame,
  encodeTunnelFrame,
  encodeTunnelJsonFrame,
  TunnelFlag,
  type TunnelOpen,
} from "./tunnel-frame.js";

/** The part of the WebSocket API the tunnel uses (browser `WebSocket` and `ws` both fit). */
export interface TunnelWebSocket {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** Opens a WebSocket to `url`. */
export type TunnelWebSocketFactory = (url: string) => TunnelWebSocket;

/** Receives the frames of one call. */
export interface TunnelStreamListener {
  onFrame(flags: number, payload: Uint8Array): void;
  /** The socket is gone (or failed to open); the call is over. */
  onClose(error: ConnectError): void;
}

/** One call's end of the socket. */
export interface TunnelStream {
  readonly id: number;
  /** Sends a frame of this call (dropped once the socket is closed). */
  send(flags: number, payload?: Uint8Array): void;
  /** Resolves when the socket's send buffer is below the high-water mark. */
  writable(): Promise<void>;
  /** Forgets the call; later frames for it are dropped. */
  release(): void;
}

/** Settings of {@link createTunnelConnection}. */
export interface TunnelConnectionOptions {
  readonly url: string;
  readonly webSocket: TunnelWebSocketFactory;
  /** Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Keepalive probe interval while calls are open; 0 disables. Default 30 s. */
  readonly pingIntervalMs?: number;
  /** Close the socket after this long without calls. Default 10 s. */
  readonly idleTimeoutMs?: number;
}

/** A lazily (re)opened, multiplexed tunnel socket. */
export interface TunnelConnection {
  /**
   * Opens the socket if needed, registers a new call on it and sends its
   * `open` frame (at once, so stream ids reach the server in order).
   */
  open(
    request: TunnelOpen,
    listener: TunnelStreamListener,
    signal?: AbortSignal,
  ): Promise<TunnelStream>;
  /** Closes the socket (calls fail with `unavailable`). The next call opens a new one. */
  close(): void;
}

const sendHighWaterBytes = 1024 * 1024;
const wsOpen = 1;

interface Socket {
  readonly ws: TunnelWebSocket;
  readonly ready: Promise<void>;
  readonly streams: Map<number, TunnelStreamListener>;
  nextId: number;
  closed: boolean;
  heard: boolean;
  pinger?: ReturnType<typeof setInterval>;
  idle?: ReturnType<typeof setTimeout>;
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/**
 * Creates the connection manager of a tunnel transport.
 *
 * @example
 * const conn = createTunnelConnection({ url: "wss://chat.example.com/switchboard.tunnel.v1", webSocket: (u) => new WebSocket(u) });
 */
export function createTunnelConnection(options: TunnelConnectionOptions): TunnelConnection {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const pingIntervalMs = options.pingIntervalMs ?? 30_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  let current: Socket | undefined;

  const shutdown = (s: Socket, error: ConnectError, code = 1000) => {
    if (s.closed) return;
    s.closed = true;
    if (current === s) current = undefined;
    clearInterval(s.pinger);
    clearTimeout(s.idle);
    try {
      s.ws.close(code, error.rawMessage.slice(0, 120));
    } catch {
      // already closing
    }
    const listeners = [...s.streams.values()];
    s.streams.clear();
    for (const l of listeners) l.onClose(error);
  };

  const armIdle = (s: Socket) => {
    clearTimeout(s.idle);
    if (s.streams.size === 0) {
      s.idle = setTimeout(
        () => shutdown(s, new ConnectError("tunnel idle", Code.Unavailable)),
        idleTimeoutMs,
      );
    }
  };

  const connect = (): Socket => {
    const ws = options.webSocket(options.url);
    ws.binaryType = "arraybuffer";
    let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    ready.catch(() => {});
    const s: Socket = { ws, ready, streams: new Map(), nextId: 1, closed: false, heard: true };
    const timer = setTimeout(() => {
      const error = new ConnectError("tunnel: connection timed out", Code.Unavailable);
      settle?.reject(error);
      shutdown(s, error);
    }, connectTimeoutMs);
    ws.onopen = () => {
      clearTimeout(timer);
      settle?.resolve();
      if (pingIntervalMs > 0) {
        s.pinger = setInterval(() => {
          if (s.streams.size === 0) return;
          if (!s.heard) {
            shutdown(s, new ConnectError("tunnel: keepalive timed out", Code.Unavailable), 4000);
            return;
          }
          s.heard = false;
          ws.send(encodeTunnelFrame(0, TunnelFlag.ping));
        }, pingIntervalMs);
      }
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      clearTimeout(timer);
      const error = new ConnectError(
        `tunnel closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`,
        Code.Unavailable,
      );
      settle?.reject(error);
      shutdown(s, error);
    };
    ws.onmessage = (event) => {
      s.heard = true;
      const bytes = toBytes(event.data);
      let frame: ReturnType<typeof decodeTunnelFrame>;
      try {
        if (!bytes) throw new Error("text message");
        frame = decodeTunnelFrame(bytes);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        shutdown(s, new ConnectError(`tunnel protocol error: ${reason}`, Code.Internal), 1002);
        return;
      }
      if (frame.streamId === 0) {
        if (frame.flags === TunnelFlag.end) {
          let error: ConnectError;
          try {
            error =
              endStreamFromJson(frame.payload).error ??
              new ConnectError("tunnel closed by the server", Code.Unavailable);
          } catch {
            error = new ConnectError("tunnel closed by the server", Code.Unavailable);
          }
          shutdown(s, error);
        }
        return;
      }
      s.streams.get(frame.streamId)?.onFrame(frame.flags, frame.payload);
    };
    return s;
  };

  return {
    async open(request, listener, signal) {
      signal?.throwIfAborted();
      if (!current || current.closed) current = connect();
      const s = current;
      await s.ready;
      if (s.closed) throw new ConnectError("tunnel closed", Code.Unavailable);
      const id = s.nextId++;
      s.streams.set(id, listener);
      clearTimeout(s.idle);
      s.ws.send(encodeTunnelJsonFrame(id, TunnelFlag.open, request));
      const release = () => {
        if (s.streams.delete(id)) armIdle(s);
      };
      return {
        id,
        send(flags, payload) {
          if (!s.closed && s.ws.readyState === wsOpen)
            s.ws.send(encodeTunnelFrame(id, flags, payload));
        },
        async writable() {
          while (!s.closed && s.ws.bufferedAmount > sendHighWaterBytes) {
            await new Promise((r) => setTimeout(r, 5));
          }
        },
        release,
      };
    },
    close() {
      if (current)
        shutdown(current, new ConnectError("tunnel closed by the client", Code.Unavailable));
    },
  };
}
