/**
 * The one listening socket. Cleartext: each connection's first bytes are
 * sniffed; the HTTP/2 connection preface goes to an h2c server (gRPC and
 * Connect with prior knowledge), anything else to an HTTP/1.1 server
 * (Connect, gRPC-Web). TLS: one HTTP/2 secure server with `allowHTTP1`,
 * negotiating `h2` or `http/1.1` by ALPN.
 *
 * Bad input never crashes the process: every socket and session has an
 * error handler, and connections that stall or close while being sniffed
 * are dropped.
 *
 * @module
 */

import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import net from "node:net";
import type { Duplex } from "node:stream";
import { type KeepaliveOptions, watchSession } from "./limits/keepalive.js";
import { type H2StreamTaker, takeH2Streams } from "./take-h2-streams.js";

/** A request handler usable by both `node:http` and `node:http2`. */
export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** The HTTP/2 client connection preface (RFC 9113, section 3.4). */
export const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Options of {@link listen}. */
export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  handler: NodeHandler;
  /**
   * Offered each HTTP/2 request stream before node's compat layer wraps it
   * (take-h2-streams.ts); streams it does not take reach `handler`.
   */
  takeH2Stream?: H2StreamTaker;
  /** PEM certificate and key: serve TLS only. */
  tls?: { cert: Buffer; key: Buffer };
  /** Cleartext: drop connections that send no decisive first bytes in time. Default 10 s. */
  sniffTimeoutMs?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection. Default: Node's (unlimited). */
  maxConcurrentStreams?: number;
  /** HTTP/2 PING keepalive and idle timeout (see limits/keepalive.ts). Default: none. */
  keepalive?: KeepaliveOptions;
  /** HTTP/1.1 `Upgrade` requests (the WebSocket tunnel), cleartext and TLS. Default: none. */
  onUpgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** A listening server. */
export interface Listener {
  /** The bound port. */
  readonly port: number;
  /** Open TCP connections (any protocol). */
  readonly connections: number;
  /** Stops accepting; asks HTTP/2 clients to go away (GOAWAY) and idle HTTP/1.1 connections to close. */
  stopAccepting(): void;
  /** Destroys every remaining connection and resolves when the socket is closed. Idempotent. */
  close(): Promise<void>;
}

const ignore = () => {};

/**
 * Listens on one port for every protocol.
 *
 * @example
 * const listener = await listen({ host: "127.0.0.1", port: 0, handler });
 * listener.port;
 */
export async function listen(opts: ListenOptions): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const track = (socket: net.Socket) => {
    socket.on("error", ignore);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  const onSession = (session: http2.ServerHttp2Session) => {
    session.on("error", ignore);
    if (opts.keepalive) watchSession(session, opts.keepalive);
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  };
  const h2Settings: http2.Settings =
    opts.maxConcurrentStreams === undefined
      ? {}
      : { maxConcurrentStreams: opts.maxConcurrentStreams };
  let h1: http.Server | undefined;
  let root: net.Server;
  if (opts.tls) {
    const secure = http2.createSecureServer(
      {
        cert: opts.tls.cert,
        key: opts.tls.key,
        allowHTTP1: true,
        settings: h2Settings,
        ALPNProtocols: ["h2", "http/1.1"],
      },
      opts.handler,
    );
    if (opts.takeH2Stream) takeH2Streams(secure, opts.takeH2Stream);
    secure.on("connection", track);
    secure.on("session", onSession);
    secure.on("stream", (stream) => stream.on("error", ignore));
    secure.on("tlsClientError", (_err, socket) => socket.destroy());
    secure.on("sessionError", ignore);
    if (opts.onUpgrade) secure.on("upgrade", opts.onUpgrade);
    root = secure;
  } else {
    const h2 = http2.createServer({ settings: h2Settings }, opts.handler);
    if (opts.takeH2Stream) takeH2Streams(h2, opts.takeH2Stream);
    h2.on("session", onSession);
    h2.on("stream", (stream) => stream.on("error", ignore));
    h2.on("sessionError", ignore);
    // No whole-request timeout: client-streaming calls (Upload) may take long.
    // Headers must still arrive within a minute.
    const server1 = http.createServer({ requestTimeout: 0, headersTimeout: 60_000 }, opts.handler);
    server1.on("clientError", (err: NodeJS.ErrnoException, socket) => {
      // Already answered: the parser reports each further chunk again.
      if (socket.writableEnded) return;
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(
        `HTTP/1.1 ${clientErrorStatus(err)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      lingerThenDestroy(socket);
    });
    if (opts.onUpgrade) server1.on("upgrade", opts.onUpgrade);
    h1 = server1;
    const timeout = opts.sniffTimeoutMs ?? 10_000;
    root = net.createServer((socket) => {
      track(socket);
      sniff(socket, timeout, (kind) => (kind === "h2" ? h2 : server1).emit("connection", socket));
    });
  }
  root.on("error", ignore);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    root.once("error", onError);
    root.listen(opts.port, opts.host, () => {
      root.off("error", onError);
      resolve();
    });
  });
  const port = (root.address() as AddressInfo).port;
  let rootClosed: Promise<void> | undefined;
  const stopAccepting = () => {
    rootClosed ??= new Promise<void>((resolve) => root.close(() => resolve()));
    for (const session of sessions) if (!session.closed) session.close();
    h1?.closeIdleConnections();
  };
  return {
    port,
    get connections() {
      return sockets.size;
    },
    stopAccepting,
    async close() {
      stopAccepting();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await rootClosed;
    },
  };
}

/**
 * The status line for a request node:http could not parse, as node's own
 * default handler answers: 431 when the request line and headers exceed
 * `maxHeaderSize` (16 KiB), 408 when they did not arrive within
 * `headersTimeout`, 400 for anything else.
 */
function clientErrorStatus(err: NodeJS.ErrnoException): string {
  if (err.code === "HPE_HEADER_OVERFLOW") return "431 Request Header Fields Too Large";
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return "408 Request Timeout";
  return "400 Bad Request";
}

/** How long a connection answered with a parse error may still send before it is cut. */
const lingerMs = 2_000;

/**
 * Lingering close (as Apache and nginx do it): after the error response the
 * socket is half-closed and what the client still sends is read and
 * dropped, until the client closes too or `lingerMs` pass. Destroying the
 * socket at once while the client is still sending makes the kernel answer
 * with RST, and the client then loses the response it was already sent.
 */
function lingerThenDestroy(socket: Duplex): void {
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  socket.resume();
}

/**
 * Reads a connection's first bytes until they either differ from the HTTP/2
 * preface (HTTP/1.1) or contain all of it (h2c), puts them back, and hands
 * the socket on. Sockets that end, fail or stay silent first are destroyed.
 */
function sniff(
  socket: net.Socket,
  timeoutMs: number,
  dispatch: (kind: "h2" | "http1") => void,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    cleanup();
    socket.destroy();
  }, timeoutMs);
  const cleanup = () => {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("close", cleanup);
  };
  const onEnd = () => {
    cleanup();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, http2Preface.length);
    let kind: "h2" | "http1" | undefined;
    if (!seen.subarray(0, n).equals(http2Preface.subarray(0, n))) kind = "http1";
    else if (seen.length >= http2Preface.length) kind = "h2";
    if (kind === undefined) return;
    socket.pause();
    cleanup();
    socket.unshift(seen);
    try {
      dispatch(kind);
      if (kind === "http1") socket.resume();
    } catch {
      socket.destroy();
    }
  };
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("close", cleanup);
}
