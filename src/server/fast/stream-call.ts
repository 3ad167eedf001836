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

import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type MethodImplSpec } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { createEndStreamSerialization, endStreamFlag } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { WireTally } from "../count-wire-bytes.js";
import { callEnded } from "./call-context.js";
import type { EnvelopeCache } from "./envelope-cache.js";
import type { ResponseWriter } from "./h2-stream-response.js";
import { invokeServerStreaming, NormalizedMessages } from "./invoke-stream.js";
import { copyHeaders } from "./invoke-unary.js";
import { nodeHeaders } from "./node-headers.js";
import { type FastCall, openCall } from "./open-call.js";
import type { FastPathSettings } from "./settings.js";
import { kStreamHooks, type StreamHooks } from "./stream-hooks.js";

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
  const out = new StreamWriter(
    res,
    responseHeader,
    compression,
    s.compressMinBytes,
    call.tally,
    ctx.abort,
  );
  // Interceptors register their per-message and error callbacks here instead of wrapping.
  call.values.set(kStreamHooks, out);
  let error: unknown;
  try {
    if (s.requestGate !== undefined) await s.requestGate(ctx);
    const input = entry.serialization.getI(protocol.binary).parse(call.message);
    const response = await invokeServerStreaming(call.spec, ctx, input, s.interceptors);
    copyHeaders(response.header, responseHeader);
    // Our own normalizing wrapper, unwrapped by no interceptor: iterate its
    // source and apply `create` here (one promise per message less).
    let schema: DescMessage | undefined;
    let source = response.message;
    if (source instanceof NormalizedMessages) {
      schema = source.schema;
      source = source.source;
    }
    const it = source[Symbol.asyncIterator]();
    for (;;) {
      let message: Message;
      try {
        const r = await it.next();
        if (r.done === true) break;
        message = schema === undefined ? r.value : (create(schema, r.value) as Message);
        out.taken(message);
      } catch (e) {
        // Errors of the stream go through the registered error mappers.
        throw out.streamError(e);
      }
      if (!(await out.write(call.cache.envelope(message)))) {
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

/**
 * Writes envelopes (compressed per message when negotiated and large
 * enough, as connect's transformCompressEnvelope does), sending the
 * headers with the first one and waiting for "drain" under backpressure;
 * also the call's {@link StreamHooks}. One object per stream, methods on
 * the prototype.
 */
class StreamWriter implements StreamHooks {
  private started = false;
  /** "close": the response finished or the client reset the stream / left. */
  private closed = false;
  private wake: (() => void) | undefined = undefined;
  private messageHooks: ((message: unknown) => void)[] | undefined = undefined;
  private errorHooks: ((error: unknown) => unknown)[] | undefined = undefined;

  constructor(
    private readonly res: ResponseWriter,
    private readonly header: Headers,
    private readonly compression: Compression | null,
    private readonly compressMinBytes: number,
    private readonly tally: WireTally | undefined,
    private readonly abortCall: (reason: unknown) => void,
  ) {
    // `on`: "close" comes once (see request-close.ts).
    res.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
  }

  onMessage(fn: (message: unknown) => void): void {
    if (this.messageHooks === undefined) this.messageHooks = [fn];
    else this.messageHooks.push(fn);
  }

  mapError(fn: (error: unknown) => unknown): void {
    if (this.errorHooks === undefined) this.errorHooks = [fn];
    else this.errorHooks.push(fn);
  }

  abort(reason: unknown): void {
    this.abortCall(reason);
  }

  /** A message was taken from the implementation. */
  taken(message: Message): void {
    const hooks = this.messageHooks;
    if (hooks !== undefined) for (const fn of hooks) fn(message);
  }

  /** The error the stream ended with, through the error mappers. */
  streamError(error: unknown): unknown {
    const hooks = this.errorHooks;
    if (hooks !== undefined) for (const fn of hooks) error = fn(error);
    return error;
  }

  private gone(): boolean {
    return this.closed || this.res.destroyed || this.res.writableEnded;
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, nodeHeaders(this.header));
  }

  /** Resolves on "drain" or "close", whichever comes first. */
  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      this.res.on("drain", done);
    });
  }

  private async compress(envelope: Buffer): Promise<Buffer> {
    const compression = this.compression;
    if (!compression || envelope.byteLength - 5 < this.compressMinBytes) return envelope;
    const packed = await compression.compress(envelope.subarray(5));
    return envelopeBytes(packed, envelope[0]! | 1);
  }

  /** Writes one envelope; resolves false if the client is gone. */
  async write(envelope: Buffer): Promise<boolean> {
    if (this.gone()) return false;
    const bytes = this.compression ? await this.compress(envelope) : envelope;
    if (this.gone()) return false;
    this.start();
    this.tally?.addOut(bytes.byteLength);
    if (this.res.write(bytes)) return true;
    if (!this.gone()) await this.drained();
    return !this.gone();
  }

  /** Writes the last envelope (if any) and the trailers (if any) and ends. */
  async end(last: Buffer | undefined, trailers: Headers | undefined): Promise<void> {
    const bytes = last === undefined ? undefined : await this.compress(last);
    if (this.gone()) return;
    this.start();
    if (trailers) this.res.addTrailers(nodeHeaders(trailers) as Record<string, string>);
    this.tally?.addOut(bytes?.byteLength ?? 0);
    if (bytes) this.res.end(bytes);
    else this.res.end();
  }
}
