/**
 * One server-streaming call on the fast path (gRPC over HTTP/2, Connect
 * streaming over HTTP/1.1 and HTTP/2): the request gate, parse, the
 * interceptors and the implementation as connect runs them; then each
 * message the implementation yields is enveloped (once per shared payload,
 * see envelope-cache.ts) and written straight to the response, with
 * backpressure from the socket; the call ends with gRPC trailers or the
 * Connect end-stream message, as the library writes them.
 *
 * Like connect, response headers are sent with the first message (or the
 * end of the call), so the implementation may still set them until then.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type MethodImplSpec } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { createEndStreamSerialization, endStreamFlag } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { WireTally } from "../count-wire-bytes.js";
import { callEnded } from "./call-context.js";
import type { EnvelopeCache } from "./envelope-cache.js";
import { invokeServerStreaming } from "./invoke-stream.js";
import { copyHeaders } from "./invoke-unary.js";
import { nodeHeaders } from "./node-headers.js";
import { type FastCall, openCall } from "./open-call.js";
import type { FastPathSettings } from "./settings.js";

type NodeResponse = ServerResponse | Http2ServerResponse;

/** Inputs of {@link serveServerStream}. */
export interface StreamCall extends FastCall {
  readonly spec: Extract<MethodImplSpec, { kind: "server_streaming" }>;
  /** Envelopes output messages for this protocol's format. */
  readonly cache: EnvelopeCache;
}

/**
 * Runs one server-streaming call and writes its response. Never rejects.
 *
 * @example
 * await serveServerStream(call, settings);
 */
export async function serveServerStream(call: StreamCall, s: FastPathSettings): Promise<void> {
  const { entry, protocol, res } = call;
  const grpc = protocol.name === "grpc";
  const { ctx, responseHeader, responseTrailer, compression, unwatch } = openCall(call, s, true);
  const out = createWriter(res, responseHeader, compression, s.compressMinBytes, call.tally);
  let error: unknown;
  let it: AsyncIterator<Message> | undefined;
  try {
    if (s.requestGate !== undefined) await s.requestGate(ctx);
    const input = entry.serialization.getI(protocol.binary).parse(call.message);
    const response = await invokeServerStreaming(call.spec, ctx, input, s.interceptors);
    copyHeaders(response.header, responseHeader);
    it = response.message[Symbol.asyncIterator]();
    for (;;) {
      const r = await it.next();
      if (r.done === true) break;
      if (!(await out.write(call.cache.envelope(r.value)))) {
        // The client is gone: stop the implementation (its finally blocks run).
        await it.return?.().catch(() => {});
        break;
      }
    }
    copyHeaders(response.trailer, responseTrailer);
  } catch (e) {
    error = e;
  }
  // Abort first: request gates may rewrite the error in place (request-gate.ts).
  ctx.abort(error ?? callEnded);
  unwatch();
  const failure =
    error === undefined
      ? undefined
      : error instanceof ConnectError
        ? error
        : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
  try {
    if (grpc) {
      if (failure) setTrailerStatus(responseTrailer, failure);
      await out.end(undefined, responseTrailer);
    } else {
      const end = endStream(s).serialize({
        metadata: responseTrailer,
        ...(failure ? { error: failure } : {}),
      });
      await out.end(envelopeBytes(end, endStreamFlag), undefined);
    }
  } catch {
    res.destroy();
  }
}

let endStreamSerialization: ReturnType<typeof createEndStreamSerialization> | undefined;
function endStream(s: FastPathSettings) {
  endStreamSerialization ??= createEndStreamSerialization(s.jsonOptions);
  return endStreamSerialization;
}

function envelopeBytes(bytes: Uint8Array, flags: number): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.byteLength);
  out[0] = flags;
  out.writeUInt32BE(bytes.byteLength, 1);
  out.set(bytes, 5);
  return out;
}

interface Writer {
  /** Writes one envelope; resolves false if the client is gone. */
  write(envelope: Buffer): Promise<boolean>;
  /** Writes the last envelope (if any) and the trailers (if any) and ends. */
  end(last: Buffer | undefined, trailers: Headers | undefined): Promise<void>;
}

/**
 * Writes envelopes (compressed per message when negotiated and large
 * enough, as connect's transformCompressEnvelope does), sending the
 * headers with the first one and waiting for "drain" under backpressure.
 */
function createWriter(
  response: NodeResponse,
  header: Headers,
  compression: Compression | null,
  compressMinBytes: number,
  tally: WireTally | undefined,
): Writer {
  // The calls below exist with the same meaning on both response types.
  const res = response as ServerResponse;
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, nodeHeaders(header));
  };
  // "close": the response finished or the client reset the stream / left.
  let closed = false;
  let wake: (() => void) | undefined;
  res.once("close", () => {
    closed = true;
    wake?.();
  });
  const gone = () => closed || res.destroyed || res.writableEnded;
  /** Resolves on "drain" or "close", whichever comes first. */
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        res.off("drain", done);
        wake = undefined;
        resolve();
      };
      wake = done;
      res.on("drain", done);
    });
  const compress = async (envelope: Buffer): Promise<Buffer> => {
    if (!compression || envelope.byteLength - 5 < compressMinBytes) return envelope;
    const packed = await compression.compress(envelope.subarray(5));
    return envelopeBytes(packed, envelope[0]! | 1);
  };
  return {
    async write(envelope) {
      if (gone()) return false;
      const bytes = await compress(envelope);
      if (gone()) return false;
      start();
      tally?.addOut(bytes.byteLength);
      if (res.write(bytes)) return true;
      if (!gone()) await drained();
      return !gone();
    },
    async end(last, trailers) {
      const bytes = last === undefined ? undefined : await compress(last);
      if (gone()) return;
      start();
      if (trailers) res.addTrailers(nodeHeaders(trailers) as Record<string, string>);
      tally?.addOut(bytes?.byteLength ?? 0);
      if (bytes) res.end(bytes);
      else res.end();
    },
  };
}
