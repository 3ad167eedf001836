/**
 * The two ways the app reaches ChatService on its own origin: connect-web over
 * fetch for unary and server-streaming calls (Send, History, Subscribe,
 * Download), and the WebSocket tunnel for the calls fetch cannot make from a
 * browser (Chat and Upload stream request bodies).
 *
 * @module
 */
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createBearerInterceptor } from "../../src/client/bearer-interceptor.js";
import { createSwitchboardCore, type SwitchboardCore } from "../../src/client/core.js";
import { ChatService } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { createTunnel } from "./tunnel.js";

/** The SDK over both transports. */
export interface Api {
  /** Unary and server-streaming calls over fetch. */
  readonly fetch: SwitchboardCore;
  /** Chat and Upload over the WebSocket tunnel. */
  readonly stream: SwitchboardCore;
  /** Closes the tunnel. */
  close(): void;
}

/**
 * Creates the SDK for a token, talking to `origin` (default: this page's).
 *
 * @example
 * const api = createApi(session.token);
 * await api.fetch.send("general", "hello");
 */
export function createApi(token: string, origin = location.origin): Api {
  const interceptors = [createBearerInterceptor(token)];
  const fetchTransport: Transport = createConnectTransport({
    baseUrl: origin,
    useBinaryFormat: true,
    interceptors,
  });
  const tunnel = createTunnel(origin, interceptors);
  return {
    fetch: createSwitchboardCore(createClient(ChatService, fetchTransport)),
    stream: createSwitchboardCore(createClient(ChatService, tunnel.transport)),
    close: () => tunnel.close(),
  };
}
