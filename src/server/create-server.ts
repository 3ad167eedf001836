/**
 * The Switchboard server: configuration in, a listening server out.
 *
 * @module
 */

import { createBackend } from "../backend/create-backend.js";
import { instrumentBackend } from "../observability/instrument-backend.js";
import { createObservability, type Observability } from "../observability/observability.js";
import { createChatService } from "../service/chat-service.js";
import { type ServerConfig, validateServerConfig } from "./config.js";
import { loadJwtSecret } from "./jwt-secret.js";
import { type ServeOptions, type SwitchboardServer, serveChatService } from "./serve.js";

export type { SwitchboardServer } from "./serve.js";

/**
 * Validates the configuration, loads (or generates) the token secret, opens
 * the backend, and serves ChatService over gRPC, gRPC-Web and Connect on one
 * port. `extra.routes` mounts more services on the same router and
 * interceptors (the benchmark's EchoService). If listening fails, the
 * backend is closed again.
 *
 * @throws ConfigError for an invalid configuration.
 *
 * @example
 * const server = await createSwitchboardServer({ ...defaultServerConfig, port: 0, backend: "memory" });
 * console.log(server.url);
 * await server.close();
 */
export async function createSwitchboardServer(
  config: ServerConfig,
  extra: Pick<ServeOptions, "routes"> = {},
): Promise<SwitchboardServer> {
  validateServerConfig(config);
  const secret = await loadJwtSecret(config);
  // Cluster mode: a NATS section makes the backend JetStream, whatever `backend` says.
  const backend = await createBackend(
    config.nats
      ? { kind: "jetstream", ...config.nats }
      : config.backend === "memory"
        ? { kind: "memory" }
        : { kind: "sqlite", dataDir: config.dataDir },
  );
  let observability: Observability | undefined;
  try {
    // Metrics, OTEL_* tracing and logs; the service's backend calls are timed.
    observability = createObservability({ logLevel: config.logLevel ?? "info", otel: config.otel });
    const timed = instrumentBackend(backend, observability.metrics);
    const service = createChatService({ backend: timed, limits: config.limits });
    // The browser app (web/dist) is served at `/` on the same port.
    return await serveChatService({
      config,
      secret,
      backend,
      service,
      webApp: {},
      observability,
      ...extra,
    });
  } catch (e) {
    await backend.close();
    await observability?.close();
    throw e;
  }
}
