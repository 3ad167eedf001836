/**
 * Node.js transports (connect-node) for the three wire protocols. The only
 * file of the SDK that depends on Node's HTTP stack; a browser app uses
 * connect-web transports with the same core helpers instead.
 *
 * @module
 */
import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { context, propagation } from "@opentelemetry/api";

/** Wire protocols Switchboard serves on one port. */
export type SwitchboardProtocol = "grpc" | "connect" | "grpc-web";

/** HTTP versions a Node transport can speak. */
export type HttpVersion = "1.1" | "2";

/** The protocols, for validating user input. */
export const switchboardProtocols: readonly SwitchboardProtocol[] = ["grpc", "connect", "grpc-web"];

/**
 * Puts the W3C trace context (`traceparent`, `tracestate`) of the active
 * OpenTelemetry context into each request, so the server's span continues
 * the caller's trace. Does nothing unless the application registered a
 * global propagator (e.g. with the OpenTelemetry Node SDK).
 *
 * @example
 * createGrpcTransport({ baseUrl, interceptors: [traceContextInterceptor] });
 */
export const traceContextInterceptor: Interceptor = (next) => (req) => {
  propagation.inject(context.active(), req.header, {
    set: (headers, key, value) => headers.set(key, value),
  });
  return next(req);
};

/** Settings of {@link createNodeTransport}. */
export interface NodeTransportOptions {
  /** Server URL, `http://host:port` (h2c prior knowledge for HTTP/2) or `https://…`. */
  readonly baseUrl: string;
  /** Default "grpc". */
  readonly protocol?: SwitchboardProtocol;
  /**
   * gRPC always uses HTTP/2. Connect and gRPC-Web default to HTTP/1.1 unless
   * "2" is given.
   */
  readonly httpVersion?: HttpVersion;
  /** Interceptors, outermost first. */
  readonly interceptors?: Interceptor[];
  /** Client-side default deadline for calls without their own. */
  readonly defaultTimeoutMs?: number;
  /**
   * HTTP/2 only: PING interval that detects dead connections under long
   * streams (a silent network loss otherwise hangs a subscription). Default 30 s.
   */
  readonly pingIntervalMs?: number;
}

/**
 * Creates a connect-node transport for `protocol`, speaking binary protobuf
 * and accepting gzip. Requests carry the active OpenTelemetry trace context
 * (see {@link traceContextInterceptor}).
 *
 * @example
 * const transport = createNodeTransport({ baseUrl: "http://127.0.0.1:8080", protocol: "connect" });
 */
export function createNodeTransport(options: NodeTransportOptions): Transport {
  const protocol = options.protocol ?? "grpc";
  const common = {
    baseUrl: options.baseUrl,
    useBinaryFormat: true,
    interceptors: [traceContextInterceptor, ...(options.interceptors ?? [])],
    defaultTimeoutMs: options.defaultTimeoutMs,
  };
  const http2 = { pingIntervalMs: options.pingIntervalMs ?? 30_000 };
  if (protocol === "grpc") {
    if (options.httpVersion === "1.1") {
      throw new Error("protocol grpc requires HTTP/2");
    }
    return createGrpcTransport({ ...common, ...http2 });
  }
  const version = options.httpVersion ?? "1.1";
  const create = protocol === "connect" ? createConnectTransport : createGrpcWebTransport;
  return version === "2"
    ? create({ ...common, ...http2, httpVersion: "2" })
    : create({ ...common, httpVersion: "1.1" });
}
