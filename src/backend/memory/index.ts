/**
 * The memory backend: every role in this process, nothing survives a restart.
 * For tests, development and single-process demos.
 *
 * @module
 */
import type { Backend } from "../types.js";
import { createMemoryBlobStore } from "./blob-store.js";
import { createInProcessFanOut } from "./fan-out.js";
import { createMemoryMessageLog } from "./message-log.js";
import { createInProcessPresence } from "./presence.js";

export { createInProcessFanOut, type InProcessFanOut } from "./fan-out.js";
export { createInProcessPresence, type InProcessPresence } from "./presence.js";

/**
 * Creates a memory backend. Each call is independent, with its own epoch.
 *
 * @example
 * const backend = createMemoryBackend();
 * await backend.log.append({ room: "lobby", sender, text: "hi", attachments: [], clientMessageId: "" });
 * await backend.close();
 */
export function createMemoryBackend(): Backend {
  const fanout = createInProcessFanOut();
  const log = createMemoryMessageLog({ publish: (message) => fanout.publish(message) });
  const blobs = createMemoryBlobStore();
  const presence = createInProcessPresence();
  let closed = false;
  const backend: Backend = {
    kind: "memory",
    log,
    fanout,
    blobs,
    presence,
    health() {
      return closed ? { ready: false, reason: "backend closed" } : { ready: true, reason: "" };
    },
    async close() {
      if (closed) return;
      closed = true;
      log.close();
      blobs.close();
      fanout.close();
      presence.close();
    },
  };
  return backend;
}
