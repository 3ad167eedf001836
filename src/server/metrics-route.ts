/**
 * `GET /metrics`: the Prometheus text exposition, on the main port or on its
 * own port (`--metrics-port`, see metrics-listener.ts).
 *
 * @module
 */

import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { AddressInfo } from "node:net";
import type { Metrics } from "../observability/metrics.js";

/** The path metrics are served at. */
export const metricsPath = "/metrics";

/**
 * Answers `GET`/`HEAD /metrics` and returns true; returns false for any other
 * request, which it leaves untouched.
 *
 * @example
 * if (serveMetricsRoute(req, res, metrics)) return;
 */
export function serveMetricsRoute(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  metrics: Metrics,
): boolean {
  if (req.url?.split("?", 1)[0] !== metricsPath) return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" });
    res.end("method not allowed\n");
    return true;
  }
  metrics.render().then(
    ({ contentType, body }) => {
      res.writeHead(200, { "Content-Type": contentType, "Cache-Control": "no-store" });
      if (req.method === "HEAD") res.end();
      else res.end(body);
    },
    () => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("metrics unavailable\n");
    },
  );
  return true;
}

/** A metrics-only listener. */
export interface MetricsListener {
  readonly port: number;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (HTTP/1.1) on its own port; every other path is 404.
 *
 * @example
 * const listener = await listenMetrics({ host: "127.0.0.1", port: 9464, metrics });
 */
export async function listenMetrics(opts: {
  host: string;
  port: number;
  metrics: Metrics;
}): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (serveMetricsRoute(req, res, opts.metrics)) return;
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("not found\n");
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
