/**
 * Correctness checks outside the load run: sends exactly the request h2load
 * sends (same URL, headers and body) once, with node:http2 for h2c or
 * node:http for HTTP/1.1, and returns status, headers, trailers and body —
 * so a scenario can check `grpc-status` and the decoded response, which
 * h2load does not.
 *
 * @module
 */

import { request as http1Request } from "node:http";
import { connect } from "node:http2";
import type { H2loadLoad } from "./h2load.js";

/** A complete response. */
export interface ReplayResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** HTTP/2 trailers (empty for HTTP/1.1). */
  readonly trailers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/**
 * Sends `load`'s request once (HTTP/1.1 when `load.h1`, else h2c).
 *
 * @example
 * const res = await replay(load);
 * if (res.trailers["grpc-status"] !== "0") throw new Error("call failed");
 */
export function replay(load: H2loadLoad): Promise<ReplayResponse> {
  return load.h1 ? replayH1(load) : replayH2(load);
}

function flatten(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  }
  return out;
}

function replayH2(load: H2loadLoad): Promise<ReplayResponse> {
  const url = new URL(load.url);
  return new Promise((done, fail) => {
    const session = connect(url.origin);
    session.on("error", fail);
    const stream = session.request({
      ":method": load.body ? "POST" : "GET",
      ":path": url.pathname + url.search,
      ...load.headers,
    });
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      headers = flatten(h);
    });
    stream.on("trailers", (t) => {
      trailers = flatten(t);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", (e) => {
      session.close();
      fail(e);
    });
    stream.on("end", () => {
      session.close();
      done({ status: Number(headers[":status"]), headers, trailers, body: Buffer.concat(chunks) });
    });
    stream.end(load.body);
  });
}

function replayH1(load: H2loadLoad): Promise<ReplayResponse> {
  return new Promise((done, fail) => {
    const req = http1Request(
      load.url,
      { method: load.body ? "POST" : "GET", headers: { ...load.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", fail);
        res.on("end", () =>
          done({
            status: res.statusCode ?? 0,
            headers: flatten(res.headers),
            trailers: {},
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", fail);
    req.end(load.body);
  });
}

/**
 * The message of a gRPC response body holding exactly one uncompressed
 * length-prefixed message.
 *
 * @throws Error for anything else.
 */
export function grpcMessage(body: Buffer): Uint8Array {
  if (body.byteLength < 5 || body[0] !== 0) throw new Error("not one uncompressed gRPC message");
  const length = body.readUInt32BE(1);
  if (body.byteLength !== 5 + length) {
    throw new Error(`gRPC body of ${body.byteLength} bytes holds a ${length}-byte message`);
  }
  return new Uint8Array(body.subarray(5));
}

/**
 * Checks a gRPC response: HTTP 200, `grpc-status: 0`; returns the message.
 *
 * @throws Error describing what was wrong.
 */
export function okGrpcMessage(res: ReplayResponse): Uint8Array {
  const status = res.trailers["grpc-status"] ?? res.headers["grpc-status"];
  if (res.status !== 200 || status !== "0") {
    const message = res.trailers["grpc-message"] ?? res.headers["grpc-message"] ?? "";
    throw new Error(`HTTP ${res.status}, grpc-status ${status ?? "missing"} ${message}`.trim());
  }
  return grpcMessage(res.body);
}
