/**
 * The transport for Chat and Upload: the SDK's WebSocket tunnel
 * (src/client/tunnel-transport.ts, docs/tunnel.md) to this page's origin,
 * since fetch cannot stream a request body.
 *
 * @module
 */
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createTunnelTransport } from "../../src/client/tunnel-transport.js";

/** A transport for streaming request bodies, and how to close it. */
export interface Tunnel {
  readonly transport: Transport;
  close(): void;
}

/**
 * Opens (lazily, on the first call) the tunnel to `origin`; the bearer token
 * travels in each call's open frame through `interceptors`.
 *
 * @example
 * const tunnel = createTunnel(location.origin, [createBearerInterceptor(token)]);
 */
export function createTunnel(origin: string, interceptors: Interceptor[]): Tunnel {
  const transport = createTunnelTransport({ baseUrl: origin, interceptors });
  return { transport, close: () => transport.close() };
}
