/**
 * The ChatService implementation: one handler per RPC, all built from the
 * same backend and limits. Register it with a connect router:
 *
 * ```ts
 * router.service(ChatService, createChatService({ backend }));
 * ```
 *
 * The caller must be established by an interceptor that sets `kUser`
 * (src/service/context-values.ts); without it every RPC is Unauthenticated.
 *
 * @module
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Backend } from "../backend/types.js";
import type { ChatService } from "../gen/switchboard/chat/v1/chat_pb.js";
import { createChatHandler } from "./chat.js";
import type { ServiceDeps } from "./deps.js";
import { createDownloadHandler } from "./download.js";
import { createHistoryHandler } from "./history.js";
import { resolveServiceLimits, type ServiceLimits } from "./limits.js";
import { createRateLimiter } from "./rate-limit.js";
import { createSendHandler } from "./send.js";
import { createSubscribeHandler } from "./subscribe.js";
import { createUploadHandler } from "./upload.js";

/** What {@link createChatService} needs. */
export interface ChatServiceDeps {
  /** The storage, fan-out, file and presence implementation. */
  readonly backend: Backend;
  /** Overrides of the default limits (see `defaultServiceLimits`). */
  readonly limits?: Partial<ServiceLimits>;
}

/**
 * Creates the ChatService implementation.
 *
 * @example
 * const backend = createMemoryBackend();
 * const routes = (router: ConnectRouter) =>
 *   router.service(ChatService, createChatService({ backend, limits: { maxTextBytes: 4096 } }));
 */
export function createChatService(deps: ChatServiceDeps): ServiceImpl<typeof ChatService> {
  const limits = resolveServiceLimits(deps.limits);
  const resolved: ServiceDeps = {
    backend: deps.backend,
    limits,
    sendLimiter: createRateLimiter({ ratePerSec: limits.sendRatePerSec, burst: limits.sendBurst }),
  };
  return {
    send: createSendHandler(resolved),
    subscribe: createSubscribeHandler(resolved),
    upload: createUploadHandler(resolved),
    download: createDownloadHandler(resolved),
    chat: createChatHandler(resolved),
    history: createHistoryHandler(resolved),
  };
}
