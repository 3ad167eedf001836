/**
 * `GET /healthz`: a plain HTTP readiness route for load balancers (HAProxy's
 * `option httpchk`, Kubernetes probes) that cannot speak gRPC health
 * checking. It answers 200 while the backend is ready and 503 otherwise, so
 * a balancer takes a node out of rotation while it cannot reach its store
 * (e.g. NATS is down) and puts it back once it can.
 *
 * @module
 */

import type { BackendHealth } from "../backend/types.js";

/** What the route reads of a request (node:http and node:http2 requests fit). */
export interface HealthRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
}

/** What the route uses of a response (node:http and node:http2 responses fit). */
export interface HealthResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

/** The path of the readiness route. */
export const healthPath = "/healthz";

/**
 * Answers `GET`/`HEAD /healthz` from `health()` and returns `true`, or
 * returns `false` (without touching the response) for any other path.
 * Other methods on the path get 405. The body is `ok` or `not ready: <reason>`;
 * responses are never cached (a HEAD response carries no body).
 *
 * @example
 * fallback: (req, res) => {
 *   if (serveHealthRoute(req, res, () => backend.health())) return;
 *   res.writeHead(404).end();
 * }
 */
export function serveHealthRoute(
  req: HealthRequest,
  res: HealthResponse,
  health: () => BackendHealth,
): boolean {
  const path = (req.url ?? "").split("?", 1)[0];
  if (path !== healthPath) return false;
  const headers = { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" };
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { ...headers, Allow: "GET, HEAD" });
    res.end("method not allowed\n");
    return true;
  }
  let state: BackendHealth;
  try {
    state = health();
  } catch {
    state = { ready: false, reason: "health check failed" };
  }
  res.writeHead(state.ready ? 200 : 503, headers);
  res.end(state.ready ? "ok\n" : `not ready: ${state.reason}\n`);
  return true;
}
