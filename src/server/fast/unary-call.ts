/**
 * One unary call on the fast path, from a request body already read to the
 * response written: the same steps, in the same order, as connect's gRPC
 * and Connect protocol handlers (request gate, parse, interceptors and
 * implementation, serialize, compress, errors as trailers or as the
 * Connect error JSON), built from connect's own exported pieces, without
 * the universal request/response conversion, the async-iterable pipeline
 * and the per-call DOMException.
 *
 * The call starts as open-call.ts starts every fast-path call (headers,
 * context, client-close watch, compression); its response headers remember
 * their node header object while untouched (response-headers.ts), so a call
 * whose handler and interceptors leave them alone is answered with node
 * header objects built once, not converted per call.
 *
 * @module
 */

import type { OutgoingHttpHeaders } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Compression, mergeNonProtocolHeaders } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  errorToJsonBytes,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { callEnded } from "./call-context.js";
import type { ResponseWriter } from "./h2-stream-response.js";
import { nodeHeaders } from "./node-headers.js";
import { type FastCall, openCall } from "./open-call.js";
import type { TrackedHeaders } from "./response-headers.js";
import type { FastPathSettings } from "./settings.js";

/** Inputs of {@link serveUnary}: a call of a unary method (its entry has `invoke`). */
export type UnaryCall = FastCall;

/**
 * Runs one unary call and writes its response. Never rejects: failures
 * become the protocol's error response.
 *
 * @example
 * await serveUnary(call, settings);
 */
export async function serveUnary(call: UnaryCall, s: FastPathSettings): Promise<void> {
  const { entry, protocol, res } = call;
  const grpc = protocol.name === "grpc";
  const { ctx, responseHeader, responseTrailer, compression, unwatch } = openCall(call, s, false);
  let body: Uint8Array | undefined;
  let error: ConnectError | undefined;
  try {
    if (s.requestGate !== undefined) await s.requestGate(ctx);
    const input = entry.serialization.getI(protocol.binary).parse(call.message);
    const output = await ctx.race(entry.invoke!(ctx, input));
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
  try {
    const written = grpc
      ? await writeGrpc(res, responseHeader, responseTrailer, body, error, compression, s)
      : await writeConnect(res, responseHeader, responseTrailer, body, error, compression, s);
    call.tally?.addOut(written);
  } catch {
    // Writing failed (the client is gone, or compression failed): nothing left to tell it.
    res.destroy();
  }
}

/** A node header object for `headers`: the one built once while they are untouched. */
function toNode(headers: TrackedHeaders): OutgoingHttpHeaders {
  return (headers.untouched as OutgoingHttpHeaders | undefined) ?? nodeHeaders(headers);
}

async function writeGrpc(
  res: ResponseWriter,
  header: TrackedHeaders,
  trailer: TrackedHeaders,
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
  res.writeHead(200, toNode(header));
  res.addTrailers(toNode(trailer) as Record<string, string>);
  if (envelope) res.end(envelope);
  else res.end();
  return envelope?.byteLength ?? 0;
}

async function writeConnect(
  res: ResponseWriter,
  header: TrackedHeaders,
  trailer: TrackedHeaders,
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
  const length = body.byteLength.toString(10);
  let head: OutgoingHttpHeaders;
  const plain = header.untouched;
  if (plain !== undefined && trailer.untouched !== undefined) {
    // Untouched: only Content-Type, no trailers — what trailerMux and
    // nodeHeaders would give, in the same (sorted) order.
    head = { "content-length": length, "content-type": plain["content-type"] };
  } else {
    const all = trailerMux(header, trailer);
    all.set("content-length", length);
    head = nodeHeaders(all);
  }
  if (res.writableEnded || res.destroyed) return 0;
  res.writeHead(status, head);
  res.end(body);
  return body.byteLength;
}
