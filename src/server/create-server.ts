/**
 * The Switchboard server: configuration in, a listening server out.
 *
 * @module
 */

import { createBackend } from "../backend/create-backend.js";
import { createChatService } from "../service/chat-service.js";
import { type ServerConfig, validateServerConfig } from "./config.js";
import { loadJwtSecret } from "./jwt-secret.js";
import { type SwitchboardServer, serveChatService } from "./serve.js";

export type { SwitchboardServer } from "./serve.js";

/**
 * Validates the configuration, loads (or generates) the token secret, opens
 * the backend, and serves ChatService over gRPC, gRPC-Web and Connect on one
 * port. If listening fails, the backend is closed again.
 *
 * @throws ConfigError for an invalid configuration.
 *
 * @example
 * const server = await createSwitchboardServer({ ...defaultServerConfig, port: 0, backend: "memory" });
 * console.log(server.url);
 * await server.close();
 */
export async function createSwitchboardServer(config: ServerConfig): Promise<SwitchboardServer> {
  validateServerConfig(config);
  const secret = await loadJwtSecret(config);
  const backend = await createBackend(
    config.backend === "memory" ? { kind: "memory" } : { kind: "sqlite", dataDir: config.dataDir },
  );
  try {
    const service = createChatService({ backend, limits: config.limits });
    return await serveChatService({ config, secret, backend, service });
  } catch (e) {
    await backend.close();
    throw e;
  }
}
