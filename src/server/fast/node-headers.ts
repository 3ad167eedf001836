/**
 * Header conversions between node's header objects and fetch `Headers`,
 * with the same rules as connect-node's adapter: request pseudo-headers
 * (`:path`, …) are dropped, repeated values appended; response headers
 * become a plain object with lower-case names and repeated names as arrays.
 *
 * @module
 */

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/**
 * Request headers as fetch Headers.
 *
 * @example
 * const header = requestHeaders(req.headers);
 */
export function requestHeaders(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ":" */) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === "string") out.append(name, value);
    else for (const v of value) out.append(name, v);
  }
  return out;
}

/**
 * Response headers (or trailers) as a node header object.
 *
 * @example
 * res.writeHead(200, nodeHeaders(ctx.responseHeader));
 */
export function nodeHeaders(headers: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = Object.create(null);
  headers.forEach((value, name) => {
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[name] = [String(seen), value];
  });
  return out;
}

/**
 * One request header's value as `Headers.get` would give it (repeated
 * values joined with ", "), straight from node's object.
 *
 * @example
 * headerValue(req.headers, "authorization");
 */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  if (value === undefined) return null;
  return typeof value === "string" ? value : value.join(", ");
}
