/**
 * One tunnel call on the server: the frames of a stream become a universal
 * HTTP request to the SAME connect handler the HTTP listener serves (so the
 * auth gate, the interceptors, limits, drain and error hygiene all apply),
 * and the handler's response becomes frames again.
 *
 * Internally the call is presented to the handler as a gRPC request
 * (`application/grpc+proto`): every method kind, unary included, then uses
 * enveloped messages and reports its status in trailers, which are turned
 * into the Connect EndStreamResponse of the `end` frame.
 *
 * @module
 */

import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeFromHttpStatus, endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { TunnelFlag } from "../../client/tunnel-frame.js";
import { createInputQueue } from "./input-queue.js";
import { grpcTimeout, type OpenRequest } from "./open-frame.js";

/** Inputs of {@link startServerCall}. */
export interface ServerCallOptions {
  /** The connect handler of the method named by the `open` frame. */
  readonly handler: UniversalHandler;
  /** The request URL the handler sees, e.g. `http://host/switchboard.chat.v1.ChatService/Chat`. */
  readonly url: string;
  readonly open: OpenRequest;
  /** Sends one frame of this call at once; resolves when the socket can take more. */
  readonly write: (flags: number, payload?: Uint8Array) => Promise<void>;
  /** Called once, right after the call's last frame was sent (or it was dropped). */
  readonly onEnd: () => void;
  /** Receives the size of each request envelope the handler consumed (or that was discarded). */
  readonly onConsumed: (bytes: number) => void;
  /** Counts the handler as in flight (for graceful shutdown); returns the release function. */
  readonly track?: () => () => void;
}

/** A running call. */
export interface ServerCall {
  /** Hands a request envelope (flags, length, message) to the handler. */
  input(envelope: Uint8Array): void;
  /** The client half-closed: the handler's input ends after the queued messages. */
  endInput(): void;
  /** True once the input ended (half-close or abort). */
  readonly inputEnded: boolean;
  /**
   * Ends the call now and aborts the handler with `error`. The client gets an
   * `end` frame with `error` unless `silent` (cancel frame, closed socket).
   */
  abort(error: ConnectError, silent: boolean): void;
}

const encoder = new TextEncoder();

/** Response headers the client has no use for: the framing is the tunnel's. */
const hiddenResponseHeaders = /^(content-type|content-length|grpc-[a-z-]+|te|trailer)$/;

function publicHeaders(header: Headers | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  header?.forEach((value, key) => {
    if (!hiddenResponseHeaders.test(key)) out[key] = value;
  });
  return out;
}

function publicTrailers(trailer: Headers | undefined): Headers {
  const out = new Headers();
  trailer?.forEach((value, key) => {
    if (!hiddenResponseHeaders.test(key)) out.append(key, value);
  });
  return out;
}

function internal(e: unknown): ConnectError {
  return e instanceof ConnectError
    ? e
    : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
}

/**
 * Starts a call: invokes the handler at once (so the auth gate runs before
 * any message arrives) and pumps its response into frames: `open` (response
 * headers), `message`s, then `end`.
 *
 * @example
 * const call = startServerCall({ handler, url, open, write, onEnd, onConsumed });
 * call.input(frame.subarray(4));
 */
export function startServerCall(opts: ServerCallOptions): ServerCall {
  const controller = new AbortController();
  const body = createInputQueue(opts.onConsumed);
  const header = new Headers(opts.open.header);
  header.set("content-type", "application/grpc+proto");
  header.set("te", "trailers");
  if (opts.open.timeoutMs !== undefined)
    header.set("grpc-timeout", grpcTimeout(opts.open.timeoutMs));
  let finished = false;

  const finish = (error: ConnectError | undefined, metadata: Headers, silent: boolean) => {
    if (finished) return;
    finished = true;
    if (!silent) {
      const json = endStreamToJson(metadata, error, undefined);
      void opts.write(TunnelFlag.end, encoder.encode(JSON.stringify(json)));
    }
    opts.onEnd();
  };

  async function pump(res: UniversalServerResponse): Promise<void> {
    const it = res.body?.[Symbol.asyncIterator]();
    try {
      if (res.status !== 200) {
        const code = codeFromHttpStatus(res.status);
        finish(new ConnectError(`HTTP status ${res.status}`, code), new Headers(), false);
        return;
      }
      // Headers go out with the first message, or with a successful end; a
      // call failing before any message gets its end frame only.
      let headersSent = false;
      const sendHeaders = async () => {
        if (headersSent) return;
        headersSent = true;
        const json = JSON.stringify({ headers: publicHeaders(res.header) });
        await opts.write(TunnelFlag.open, encoder.encode(json));
      };
      let pending: Uint8Array = new Uint8Array(0);
      while (it && !finished) {
        const r = await it.next();
        if (r.done) break;
        pending = pending.byteLength === 0 ? r.value : concat(pending, r.value);
        while (pending.byteLength >= 5 && !finished) {
          const view = new DataView(pending.buffer, pending.byteOffset, pending.byteLength);
          const length = view.getUint32(1);
          if (pending.byteLength < 5 + length) break;
          await sendHeaders();
          if (finished) break;
          await opts.write(view.getUint8(0), pending.subarray(5, 5 + length));
          pending = pending.subarray(5 + length);
        }
      }
      if (finished) return;
      if (pending.byteLength > 0) {
        throw new ConnectError("protocol error: incomplete response envelope", Code.Internal);
      }
      const error =
        findTrailerError(res.trailer ?? new Headers()) ??
        findTrailerError(res.header ?? new Headers());
      if (error === undefined) await sendHeaders();
      if (finished) return;
      finish(error, publicTrailers(res.trailer), false);
    } finally {
      // Lets connect abort the handler's context and release its resources.
      if (finished) void it?.return?.().catch(() => {});
    }
  }

  const release = opts.track?.();
  // Connect aborts the handler's signal at the deadline, but a handler
  // waiting for its next request message would wait on: the input fails too
  // (over HTTP the client's reset does this).
  const deadline =
    opts.open.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          const error = new ConnectError("the operation timed out", Code.DeadlineExceeded);
          controller.abort(error);
          body.end(error);
        }, opts.open.timeoutMs);
  void (async () => {
    try {
      const res = await opts.handler({
        httpVersion: "2.0",
        method: "POST",
        url: opts.url,
        header,
        body,
        signal: controller.signal,
      });
      await pump(res);
    } catch (e) {
      finish(internal(e), new Headers(), false);
    } finally {
      clearTimeout(deadline);
      body.discard();
      release?.();
    }
  })();

  return {
    input: (envelope) => body.push(envelope),
    endInput: () => body.end(),
    get inputEnded() {
      return body.ended;
    },
    abort(error, silent) {
      controller.abort(error);
      body.end(error);
      finish(error, new Headers(), silent);
    },
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
