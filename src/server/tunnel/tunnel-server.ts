/**
 * The WebSocket tunnel endpoint (`/switchboard.tunnel.v1`, docs/tunnel.md):
 * browsers get client and bidirectional streaming (Upload, Chat) over one
 * WebSocket, served by the same connect handlers as HTTP.
 *
 * The upgrade is refused with 403 for a browser `Origin` outside the CORS
 * allowlist, 503 while the server shuts down, and 404 on other paths.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { WebSocketServer } from "ws";
import { tunnelFrameHeaderBytes, tunnelPath } from "../../client/tunnel-frame.js";
import { runTunnelSession, TunnelCloseCode, type TunnelLimits } from "./tunnel-session.js";

/** Defaults of {@link TunnelLimits}. */
export const defaultTunnelLimits: Readonly<TunnelLimits> = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxCallsPerSocket: 100,
  pingIntervalMs: 30_000,
  idleTimeoutMs: 120_000,
  maxQueuedBytes: 8 * 1024 * 1024,
  maxBufferedBytes: 1024 * 1024,
});

/**
 * WebSocket messages may exceed `maxMessageBytes` by this much and still get
 * a clean ResourceExhausted `end` frame; larger ones close the socket (1009).
 */
const oversizeSlackBytes = 64 * 1024;

/** Inputs of {@link createTunnelServer}. */
export interface TunnelServerOptions {
  /** The connect router's handlers (`router.handlers`), the same the HTTP listener serves. */
  readonly handlers: readonly UniversalHandler[];
  /**
   * Allowed browser origins (exact match); `"*"` allows any. Requests without
   * `Origin` and same-origin requests (Origin's host is the Host header) are allowed.
   */
  readonly corsOrigins: readonly string[];
  /** True while the server shuts down. */
  readonly draining: () => boolean;
  /** Counts a call as in flight for graceful shutdown. */
  readonly trackCall?: () => () => void;
  readonly limits?: Partial<TunnelLimits>;
}

/** The tunnel endpoint. */
export interface TunnelServer {
  /** Handles an HTTP/1.1 `upgrade` request (pass it the server's `upgrade` event). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Open tunnel sockets. */
  readonly sessions: number;
  /** Closes every tunnel socket (1001) and resolves once they are closed, at most after 1 s. */
  close(): Promise<void>;
}

function refuse(socket: Duplex, status: string): void {
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\n\r\n`,
    );
  }
  socket.destroy();
}

/**
 * Creates the tunnel endpoint.
 *
 * @example
 * const tunnel = createTunnelServer({ handlers: router.handlers, corsOrigins: [], draining: () => false });
 * httpServer.on("upgrade", tunnel.handleUpgrade);
 */
export function createTunnelServer(opts: TunnelServerOptions): TunnelServer {
  const limits: TunnelLimits = { ...defaultTunnelLimits, ...opts.limits };
  const handlers = new Map(opts.handlers.map((h) => [h.requestPath, h]));
  const anyOrigin = opts.corsOrigins.includes("*");
  const origins = new Set(opts.corsOrigins);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxMessageBytes + tunnelFrameHeaderBytes + oversizeSlackBytes,
    perMessageDeflate: false,
    clientTracking: true,
  });
  wss.on("error", () => {});

  return {
    handleUpgrade(req, socket, head) {
      socket.on("error", () => {});
      const path = (req.url ?? "").split("?")[0];
      if (path !== tunnelPath) return refuse(socket, "404 Not Found");
      if (opts.draining()) return refuse(socket, "503 Service Unavailable");
      const origin = req.headers.origin;
      // Same-origin pages (the web app served at `/`) need no allowlist entry.
      const sameOrigin = typeof origin === "string" && originHost(origin) === req.headers.host;
      if (typeof origin === "string" && !anyOrigin && !origins.has(origin) && !sameOrigin) {
        return refuse(socket, "403 Forbidden");
      }
      const encrypted = "encrypted" in socket && socket.encrypted === true;
      const baseUrl = `${encrypted ? "https" : "http"}://${req.headers.host ?? "localhost"}`;
      try {
        wss.handleUpgrade(req, socket, head, (ws) => {
          runTunnelSession({
            socket: ws,
            handlers,
            baseUrl,
            limits,
            draining: opts.draining,
            ...(opts.trackCall ? { trackCall: opts.trackCall } : {}),
          });
        });
      } catch {
        socket.destroy();
      }
    },
    get sessions() {
      return wss.clients.size;
    },
    async close() {
      const open = [...wss.clients];
      await Promise.all(
        open.map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === ws.CLOSED) return resolve();
              const timer = setTimeout(() => {
                ws.terminate();
                resolve();
              }, 1_000);
              ws.once("close", () => {
                clearTimeout(timer);
                resolve();
              });
              ws.close(TunnelCloseCode.goingAway, "server shutting down");
            }),
        ),
      );
    },
  };
}

/** The `host[:port]` of an Origin header; "" when it is not a URL. */
function originHost(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return "";
  }
}
