/**
 * One unary call on the fast path, from a request body already read to the
 * response written: the same steps, in the same order, as connect's gRPC
 * and Connect protocol handlers (request gate, parse, interceptors and
 * implementation, serialize, compress, errors as trailers or as the
 * Connect error JSON), built from connect's own exported pieces, without
 * the universal request/response conversion, the async-iterable pipeline
 * and the per-call DOMException.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { Code, ConnectError, type MethodImplSpec } from "@connectrpc/connect";
import { type Compression, mergeNonProtocolHeaders } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  errorToJsonBytes,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { callEnded } from "./call-context.js";
import { invokeUnary } from "./invoke-unary.js";
import { nodeHeaders } from "./node-headers.js";
import { type FastCall, openCall } from "./open-call.js";
import type { FastPathSettings } from "./settings.js";

type NodeResponse = ServerResponse | Http2ServerResponse;

/** Inputs of {@link serveUnary}. */
export interface UnaryCall extends FastCall {
  readonly spec: Extract<MethodImplSpec, { kind: "unary" }>;
}

/**
 * Runs one unary call and writes its response. Never rejects: failures
 * become the protocol's error response.
 *
 * @example
 * await serveUnary(call, settings);
 */
export async function serveUnary(call: UnaryCall, s: FastPathSettings): Promise<void> {
  const { entry, protocol } = call;
  const { ctx, responseHeader, responseTrailer, compression, unwatch } = openCall(call, s, false);
  let body: Uint8Array | undefined;
  let error: ConnectError | undefined;
  try {
    if (s.requestGate !== undefined) await s.requestGate(ctx);
    const input = entry.serialization.getI(protocol.binary).parse(call.message);
    const output = await ctx.race(invokeUnary(call.spec, ctx, input, s.interceptors));
    body = entry.serialization.getO(protocol.binary).serialize(output);
  } catch (e) {
    // Abort first: request gates may rewrite the error in place (request-gate.ts).
    ctx.abort(e);
    error =
      e instanceof ConnectError
        ? e
        : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
  }
  ctx.abort(callEnded);
  unwatch();
  const write = protocol.name === "grpc" ? writeGrpc : writeConnect;
  try {
    call.tally?.addOut(
      await write(call.res, responseHeader, responseTrailer, body, error, compression, s),
    );
  } catch {
    // Writing failed (the client is gone, or compression failed): nothing left to tell it.
    call.res.destroy();
  }
}

async function writeGrpc(
  res: NodeResponse,
  header: Headers,
  trailer: Headers,
  body: Uint8Array | undefined,
  error: ConnectError | undefined,
  compression: Compression | null,
  s: FastPathSettings,
): Promise<number> {
  let envelope: Buffer | undefined;
  if (body !== undefined) {
    let flags = 0;
    if (compression && body.byteLength >= s.compressMinBytes) {
      body = await compression.compress(body);
      flags = 1;
    }
    envelope = Buffer.allocUnsafe(5 + body.byteLength);
    envelope[0] = flags;
    envelope.writeUInt32BE(body.byteLength, 1);
    envelope.set(body, 5);
  }
  if (error) setTrailerStatus(trailer, error);
  if (res.writableEnded || res.destroyed) return 0;
  res.writeHead(200, nodeHeaders(header));
  res.addTrailers(nodeHeaders(trailer) as Record<string, string>);
  if (envelope) res.end(envelope);
  else res.end();
  return envelope?.byteLength ?? 0;
}

async function writeConnect(
  res: NodeResponse,
  header: Headers,
  trailer: Headers,
  body: Uint8Array | undefined,
  error: ConnectError | undefined,
  compression: Compression | null,
  s: FastPathSettings,
): Promise<number> {
  let status = 200;
  if (error || body === undefined) {
    const e = error ?? new ConnectError("internal error", Code.Internal);
    status = codeToHttpStatus(e.code);
    header.set("content-type", "application/json");
    if (!e.isWireError) mergeNonProtocolHeaders(header, e.metadata);
    body = errorToJsonBytes(e, s.jsonOptions);
  }
  if (compression && body.byteLength >= s.compressMinBytes) {
    body = await compression.compress(body);
    header.set("content-encoding", compression.name);
  }
  const all = trailerMux(header, trailer);
  all.set("content-length", body.byteLength.toString(10));
  if (res.writableEnded || res.destroyed) return 0;
  res.writeHead(status, nodeHeaders(all));
  res.end(body);
  return body.byteLength;
}
