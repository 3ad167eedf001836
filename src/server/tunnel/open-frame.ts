/**
 * The `open` frame of a tunnel call: JSON naming the method and carrying the
 * request headers (browsers cannot set headers on a WebSocket, so
 * `Authorization` travels here). Parsed strictly; every problem is an
 * InvalidArgument naming the field.
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { headerTimeout, parseTimeout } from "@connectrpc/connect/protocol-connect";

/** Largest accepted `open` payload (the JSON of method and headers). */
export const maxOpenFrameBytes = 64 * 1024;

/** Largest deadline a client may ask for, in milliseconds (Connect allows 10 digits). */
const maxTimeoutMs = 9_999_999_999;

/**
 * Headers the tunnel sets itself: protocol, framing, compression and
 * hop-by-hop headers given in an `open` frame are dropped.
 */
const reservedHeaders = new Set([
  "accept-encoding",
  "connection",
  "connect-accept-encoding",
  "connect-content-encoding",
  "connect-protocol-version",
  "content-encoding",
  "content-length",
  "content-type",
  "grpc-accept-encoding",
  "grpc-encoding",
  "grpc-timeout",
  "host",
  "keep-alive",
  "te",
  "transfer-encoding",
  "upgrade",
]);

/** A validated `open` frame. */
export interface OpenRequest {
  /** Request path, e.g. `/switchboard.chat.v1.ChatService/Chat`. */
  readonly path: string;
  /** Request headers without reserved ones. */
  readonly header: Headers;
  /** The client's deadline (`connect-timeout-ms`), if any. */
  readonly timeoutMs?: number;
}

const invalid = (message: string) => new ConnectError(message, Code.InvalidArgument);

/**
 * Parses and validates an `open` frame's payload.
 *
 * @throws ConnectError InvalidArgument for bad UTF-8 or JSON, a missing or
 * malformed `method`, malformed `headers`, or a bad `connect-timeout-ms`;
 * ResourceExhausted when the payload exceeds {@link maxOpenFrameBytes}.
 *
 * @example
 * const { path, header } = parseOpenFrame(frame.payload);
 */
export function parseOpenFrame(payload: Uint8Array): OpenRequest {
  if (payload.byteLength > maxOpenFrameBytes) {
    throw new ConnectError(
      `open frame of ${payload.byteLength} bytes exceeds ${maxOpenFrameBytes} bytes`,
      Code.ResourceExhausted,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    throw invalid("open: must be a UTF-8 JSON object");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("open: must be a UTF-8 JSON object");
  }
  const { method, headers } = value as { method?: unknown; headers?: unknown };
  if (typeof method !== "string" || !/^\/[A-Za-z0-9_.]+\/[A-Za-z0-9_]+$/.test(method)) {
    throw invalid('open.method: must be a request path like "/package.Service/Method"');
  }
  const header = new Headers();
  if (headers !== undefined) {
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      throw invalid("open.headers: must be an object of strings or string arrays");
    }
    for (const [name, raw] of Object.entries(headers)) {
      const values = Array.isArray(raw) ? raw : [raw];
      for (const v of values) {
        if (typeof v !== "string") {
          throw invalid(`open.headers.${name}: must be a string or an array of strings`);
        }
        try {
          if (!reservedHeaders.has(name.toLowerCase())) header.append(name, v);
        } catch {
          throw invalid(`open.headers.${name}: not a valid HTTP header name or value`);
        }
      }
    }
  }
  const timeout = parseTimeout(header.get(headerTimeout), maxTimeoutMs);
  if (timeout.error) throw timeout.error;
  header.delete(headerTimeout);
  return timeout.timeoutMs === undefined
    ? { path: method, header }
    : { path: method, header, timeoutMs: timeout.timeoutMs };
}

/**
 * Formats a deadline as a gRPC `grpc-timeout` header value (at most 8 digits
 * and a unit), rounding up.
 *
 * @example
 * grpcTimeout(1500); // "1500m"
 */
export function grpcTimeout(ms: number): string {
  if (ms <= 99_999_999) return `${ms}m`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds <= 99_999_999) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(seconds / 3600))}H`;
}
