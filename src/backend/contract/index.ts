/**
 * The one test suite every backend passes. Each implementation's test file
 * calls {@link runBackendContract} with a factory; the suite owns the temp
 * directories it hands to that factory and removes them afterwards.
 *
 * One file per role: message-log.ts, fan-out.ts, blob-store.ts, presence.ts,
 * durability.ts, lifecycle.ts (close and health); shared fixtures in
 * helpers.ts.
 *
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe } from "node:test";
import type { Backend } from "../types.js";
import { blobStoreContract } from "./blob-store.js";
import { durabilityContract } from "./durability.js";
import { fanOutContract } from "./fan-out.js";
import type { BackendContractOptions, ContractContext } from "./helpers.js";
import { lifecycleContract } from "./lifecycle.js";
import { messageLogContract } from "./message-log.js";
import { presenceContract } from "./presence.js";

export type { BackendContractOptions } from "./helpers.js";

/**
 * Registers a `describe` suite proving that a backend honours every guarantee
 * documented in `types.ts`.
 *
 * @param name Suite name, e.g. "memory backend".
 * @param open Opens a backend on a directory (fresh, or reused when durable).
 * @param options Whether close + reopen on the same directory must keep data.
 *
 * @example
 * runBackendContract("sqlite backend", async (dir) => createSqliteBackend({ dataDir: dir }), { durable: true });
 */
export function runBackendContract(
  name: string,
  open: (dir: string) => Promise<Backend>,
  options: BackendContractOptions,
): void {
  describe(`${name} contract`, () => {
    let backend: Backend | undefined;
    let roomCounter = 0;
    const dirs: string[] = [];

    const ctx: ContractContext = {
      get backend(): Backend {
        if (!backend) throw new Error("the contract backend is opened in before()");
        return backend;
      },
      open,
      options,
      async freshDir() {
        const d = await mkdtemp(join(tmpdir(), "switchboard-backend-"));
        dirs.push(d);
        return d;
      },
      newRoom: () => `room-${++roomCounter}`,
    };

    before(async () => {
      backend = await open(await ctx.freshDir());
    });
    after(async () => {
      await backend?.close();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    });

    messageLogContract(ctx);
    fanOutContract(ctx);
    blobStoreContract(ctx);
    presenceContract(ctx);
    durabilityContract(ctx);
    lifecycleContract(ctx);
  });
}
