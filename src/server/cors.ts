/**
 * CORS for browser clients (connect-web, gRPC-Web): only configured origins
 * are allowed, compared exactly; `"*"` allows any origin and must be
 * configured explicitly.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { cors } from "@connectrpc/connect";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** Headers browsers may send: Connect's, gRPC-Web's and `Authorization`. */
export const corsAllowedHeaders: readonly string[] = [...cors.allowedHeaders, "Authorization"];

/** How long browsers may cache a preflight answer, in seconds. */
export const corsMaxAgeSeconds = 7200;

/**
 * Creates a function that applies CORS to one request. It returns `true`
 * when it answered the request itself (a preflight: 204 for an allowed
 * origin, 403 otherwise) and `false` when the request should be served,
 * after adding the CORS response headers for an allowed origin.
 *
 * @example
 * const applyCors = createCors(["https://app.example.com"]);
 * if (applyCors(req, res)) return;
 */
export function createCors(origins: readonly string[]): (req: Req, res: Res) => boolean {
  const any = origins.includes("*");
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin !== "string") return false;
    const preflight =
      req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    const ok = any || allowed.has(origin);
    res.setHeader("Vary", "Origin");
    if (!ok) {
      if (!preflight) return false;
      res.writeHead(403, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("origin not allowed\n");
      return true;
    }
    res.setHeader("Access-Control-Allow-Origin", any ? "*" : origin);
    if (!preflight) {
      res.setHeader("Access-Control-Expose-Headers", cors.exposedHeaders.join(", "));
      return false;
    }
    res.writeHead(204, {
      "Access-Control-Allow-Methods": cors.allowedMethods.join(", "),
      "Access-Control-Allow-Headers": corsAllowedHeaders.join(", "),
      "Access-Control-Max-Age": String(corsMaxAgeSeconds),
    });
    res.end();
    return true;
  };
}
