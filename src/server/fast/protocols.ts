/**
 * The wire protocols the fast path serves, recognised from the request
 * exactly as connect's protocol handlers recognise them, but only in their
 * plain form: requests that declare a compressed body, an unusual content
 * type spelling or anything else the fast path does not take are left to
 * the library (see fast-path.ts).
 *
 * @module
 */

import type { IncomingHttpHeaders } from "node:http";
import {
  contentTypeStreamJson,
  contentTypeStreamProto,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  parseTimeout as parseConnectTimeout,
} from "@connectrpc/connect/protocol-connect";
import {
  contentTypeProto as grpcContentTypeProto,
  parseTimeout as parseGrpcTimeout,
} from "@connectrpc/connect/protocol-grpc";

// Header names as node presents them (lower case).
const grpcEncoding = "grpc-encoding";
const contentEncoding = "content-encoding";
const connectContentEncoding = "connect-content-encoding";
const connectProtocolVersion = "connect-protocol-version";

/** How one protocol frames a call. */
export interface FastProtocol {
  /** connect's protocol name, as in `HandlerContext.protocolName`. */
  readonly name: "grpc" | "connect";
  /** Binary (protobuf) or JSON messages. */
  readonly binary: boolean;
  /** Messages are enveloped (5-byte prefix): gRPC and Connect streaming. */
  readonly enveloped: boolean;
  /** The Content-Type connect answers with. */
  readonly responseContentType: string;
  /** The request header listing encodings the client accepts. */
  readonly acceptEncodingHeader: string;
  /** The header connect names the response's compression in. */
  readonly encodingHeader: string;
  readonly timeoutHeader: string;
  parseTimeout(value: string | null, maxTimeoutMs: number): { timeoutMs?: number; error?: Error };
}

const grpc: FastProtocol = {
  name: "grpc",
  binary: true,
  enveloped: true,
  responseContentType: grpcContentTypeProto,
  acceptEncodingHeader: "grpc-accept-encoding",
  encodingHeader: "grpc-encoding",
  timeoutHeader: "grpc-timeout",
  parseTimeout: parseGrpcTimeout,
};

const connectProto: FastProtocol = {
  name: "connect",
  binary: true,
  enveloped: false,
  responseContentType: contentTypeUnaryProto,
  acceptEncodingHeader: "accept-encoding",
  encodingHeader: "content-encoding",
  timeoutHeader: "connect-timeout-ms",
  parseTimeout: parseConnectTimeout,
};

const connectJson: FastProtocol = {
  ...connectProto,
  binary: false,
  responseContentType: contentTypeUnaryJson,
};

/** Connect server streaming: enveloped messages, an end-stream message instead of trailers. */
const connectStreamProto: FastProtocol = {
  ...connectProto,
  enveloped: true,
  responseContentType: contentTypeStreamProto,
  acceptEncodingHeader: "connect-accept-encoding",
  encodingHeader: "connect-content-encoding",
};

const connectStreamJson: FastProtocol = {
  ...connectStreamProto,
  binary: false,
  responseContentType: contentTypeStreamJson,
};

/**
 * The protocol of a POST request the fast path may serve, or undefined:
 * gRPC only over HTTP/2 (gRPC-Web is left to the library), Connect unary
 * content types for unary methods and Connect streaming ones for
 * server-streaming methods; never a compressed request; Connect only with
 * no or version-1 `connect-protocol-version`.
 *
 * @example
 * const protocol = fastProtocol(req.headers, req.httpVersionMajor, false);
 */
export function fastProtocol(
  headers: IncomingHttpHeaders,
  httpVersionMajor: number,
  streaming: boolean,
): FastProtocol | undefined {
  switch (headers["content-type"]) {
    case "application/grpc":
    case "application/grpc+proto":
      if (httpVersionMajor !== 2 || !identity(headers[grpcEncoding])) return undefined;
      return grpc;
    case "application/proto":
      return !streaming && plainConnect(headers, contentEncoding) ? connectProto : undefined;
    case "application/json":
      return !streaming && plainConnect(headers, contentEncoding) ? connectJson : undefined;
    case "application/connect+proto":
      return streaming && plainConnect(headers, connectContentEncoding)
        ? connectStreamProto
        : undefined;
    case "application/connect+json":
      return streaming && plainConnect(headers, connectContentEncoding)
        ? connectStreamJson
        : undefined;
    default:
      return undefined;
  }
}

function identity(value: string | string[] | undefined): boolean {
  return value === undefined || value === "identity";
}

function plainConnect(headers: IncomingHttpHeaders, encodingHeader: string): boolean {
  const version = headers[connectProtocolVersion];
  return (version === undefined || version === "1") && identity(headers[encodingHeader]);
}
