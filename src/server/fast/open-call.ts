/**
 * The start every fast-path call shares, unary or streaming: the response
 * headers and trailers connect starts with (Content-Type; gRPC's
 * `grpc-status: 0`), the handler context, the watch for a client that
 * leaves (response headers that remember their node header objects while
 * untouched, response-headers.ts), and the response compression negotiated as connect negotiates it
 * (announced in the headers for gRPC and for Connect streaming; Connect
 * unary names it only on a compressed body).
 *
 * @module
 */

import type { IncomingHttpHeaders } from "node:http";
import type { ContextValues } from "@connectrpc/connect";
import { type Compression, compressionNegotiate } from "@connectrpc/connect/protocol";
import type { WireTally } from "../count-wire-bytes.js";
import { type CallContext, type CallRegistry, createCallContext } from "./call-context.js";
import type { FastRequest, FastResponse } from "./h2-stream-response.js";
import type { FastMethod } from "./method-table.js";
import { headerValue } from "./node-headers.js";
import type { FastProtocol } from "./protocols.js";
import { onRequestClose } from "./request-close.js";
import { startResponseHeaders, type TrackedHeaders } from "./response-headers.js";
import type { FastPathSettings } from "./settings.js";

/** What the fast path knows of a call when it hands it to serveUnary / serveServerStream. */
export interface FastCall {
  readonly entry: FastMethod;
  readonly protocol: FastProtocol;
  /** Node's request, or the HTTP/2 stream the fast path took (h2-stream-response.ts). */
  readonly req: FastRequest;
  readonly res: FastResponse;
  /** The request message's bytes (for enveloped protocols: the envelope's payload). */
  readonly message: Uint8Array;
  readonly nodeHeaders: IncomingHttpHeaders;
  readonly url: string;
  readonly timeoutMs: number | undefined;
  readonly values: ContextValues;
  /** Byte counts for the observer, when it wants them. */
  readonly tally: WireTally | undefined;
  /** The server's live calls, aborted on shutdown. */
  readonly calls: CallRegistry;
}

/** A call, opened. */
export interface OpenedCall {
  readonly ctx: CallContext;
  /** Remember their node header objects while untouched (response-headers.ts). */
  readonly responseHeader: TrackedHeaders;
  readonly responseTrailer: TrackedHeaders;
  /** The response compression, or null. */
  readonly compression: Compression | null;
  /** Stops watching for the client leaving (call it once the call's outcome is known). */
  unwatch(): void;
}

/**
 * Opens a call.
 *
 * @example
 * const { ctx, responseHeader, compression, unwatch } = openCall(call, settings, false);
 */
export function openCall(call: FastCall, s: FastPathSettings, streaming: boolean): OpenedCall {
  const { entry, protocol } = call;
  const compression = compressionNegotiate(
    s.acceptCompression,
    null,
    headerValue(call.nodeHeaders, protocol.acceptEncodingHeader),
    protocol.acceptEncodingHeader,
  ).response;
  const announced = streaming || protocol.name === "grpc" ? compression : null;
  const { header: responseHeader, trailer: responseTrailer } = startResponseHeaders(
    protocol,
    announced,
  );
  const ctx = createCallContext({
    method: entry.method,
    service: entry.service,
    protocolName: protocol.name,
    requestMethod: "POST",
    url: call.url,
    timeoutMs: call.timeoutMs,
    shutdownSignal: s.shutdownSignal,
    calls: call.calls,
    nodeHeaders: call.nodeHeaders,
    responseHeader,
    responseTrailer,
    values: call.values,
  });
  const unwatch = onRequestClose(call.req, call.res, ctx.abort);
  return { ctx, responseHeader, responseTrailer, compression, unwatch };
}
