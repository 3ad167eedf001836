/**
 * Starts Switchboard's real server stack (serveChatService: the one
 * listener, request handler, interceptors and auth gate, with ChatService
 * on the memory backend) with grpc.testing.TestService mounted next to
 * ChatService, for the interop tests.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { mintToken } from "../../src/auth/tokens.js";
import { createMemoryBackend } from "../../src/backend/memory/index.js";
import { defaultServerConfig } from "../../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../../src/server/serve.js";
import { createChatService } from "../../src/service/chat-service.js";
import { registerInteropService } from "./test-service.js";

/** A running interop server. */
export interface InteropServer {
  readonly server: SwitchboardServer;
  /** `127.0.0.1:PORT`, the target for gRPC clients. */
  readonly target: string;
  readonly port: number;
  /** A valid bearer token (TestService sits behind the same auth gate as ChatService). */
  readonly token: string;
  close(): Promise<void>;
}

/**
 * Starts the server on 127.0.0.1, port 0.
 *
 * @example
 * const s = await startInteropServer();
 * after(() => s.close());
 */
export async function startInteropServer(): Promise<InteropServer> {
  const backend = createMemoryBackend();
  const secret = new Uint8Array(randomBytes(32));
  const server = await serveChatService({
    config: { ...defaultServerConfig, host: "127.0.0.1", port: 0, shutdownGraceMs: 500 },
    secret,
    backend,
    service: createChatService({ backend }),
    routes: registerInteropService,
    errorLog: () => {},
  });
  const token = await mintToken(secret, { subject: "interop", rooms: ["*"] });
  return {
    server,
    target: `127.0.0.1:${server.port}`,
    port: server.port,
    token,
    close: () => server.close(),
  };
}
