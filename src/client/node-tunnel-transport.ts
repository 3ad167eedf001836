/**
 * The WebSocket tunnel transport for Node.js, on the `ws` package (Node 20
 * has no global WebSocket). Everything else is the transport-agnostic
 * tunnel-transport.ts.
 *
 * @module
 */
import WebSocket, { type ClientOptions } from "ws";
import type { TunnelWebSocket } from "./tunnel-connection.js";
import {
  createTunnelTransport,
  type TunnelTransport,
  type TunnelTransportOptions,
} from "./tunnel-transport.js";

/** Settings of {@link createNodeTunnelTransport}. */
export interface NodeTunnelTransportOptions extends Omit<TunnelTransportOptions, "webSocket"> {
  /** `ws` client options, e.g. `{ ca }` for a private CA or `{ headers: { origin } }`. */
  readonly ws?: ClientOptions;
}

/**
 * Creates a tunnel transport for Node.js.
 *
 * @example
 * const transport = createNodeTunnelTransport({
 *   baseUrl: "http://127.0.0.1:8080",
 *   interceptors: [createBearerInterceptor(token)],
 * });
 * const client = createClient(ChatService, transport);
 * const { file } = await client.upload(requests);
 * transport.close();
 */
export function createNodeTunnelTransport(options: NodeTunnelTransportOptions): TunnelTransport {
  const { ws: wsOptions, ...rest } = options;
  return createTunnelTransport({
    ...rest,
    webSocket: (url) =>
      new WebSocket(url, { perMessageDeflate: false, ...wsOptions }) as unknown as TunnelWebSocket,
  });
}
