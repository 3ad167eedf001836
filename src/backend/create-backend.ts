/**
 * The one place that picks a backend implementation from configuration.
 *
 * @module
 */
import { createJetStreamBackend, type JetStreamBackendOptions } from "./jetstream/index.js";
import { createMemoryBackend } from "./memory/index.js";
import { createSqliteBackend } from "./sqlite/index.js";
import type { Backend } from "./types.js";

/** Which backend to run, with its settings. */
export type BackendConfig =
  | { kind: "memory" }
  | { kind: "sqlite"; dataDir: string }
  | ({ kind: "jetstream" } & JetStreamBackendOptions);

/**
 * Opens the configured backend.
 *
 * @example
 * const backend = await createBackend({ kind: "sqlite", dataDir: "./data" });
 */
export async function createBackend(config: BackendConfig): Promise<Backend> {
  switch (config.kind) {
    case "memory":
      return createMemoryBackend();
    case "sqlite":
      return createSqliteBackend({ dataDir: config.dataDir });
    case "jetstream": {
      const { kind: _kind, ...options } = config;
      return createJetStreamBackend(options);
    }
    default: {
      const unknown: never = config;
      throw new Error(
        `unknown backend kind ${JSON.stringify((unknown as { kind: unknown }).kind)}`,
      );
    }
  }
}
