/**
 * Micro benchmark of the SQLite message log's durable append, in process (no
 * RPC): `count` appends issued by `concurrency` workers that each await their
 * previous append, in one room and spread over 8 rooms, on a fresh data
 * directory under the OS temp directory. Prints appends per second per run,
 * and transactions per run when the log reports them (group commit).
 *
 * Usage: `node --import tsx bench/micro/sqlite-append.ts [count] [concurrency,…]`
 * (defaults: 2000 appends, concurrency 1,16,128). Numbers depend on the disk's
 * fsync latency and on whatever else runs on the machine; nothing is asserted.
 *
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteBackend } from "../../src/backend/sqlite/index.js";
import type { Backend } from "../../src/backend/types.js";

const sender = { id: "bench", name: "Bench" };

/** Transactions committed so far, when the log exposes group-commit stats. */
function transactions(backend: Backend): number | undefined {
  const stats = (backend.log as { stats?: () => { transactions: number } }).stats;
  return stats ? stats().transactions : undefined;
}

async function run(count: number, concurrency: number, rooms: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-bench-append-"));
  const backend = createSqliteBackend({ dataDir: dir });
  try {
    // Warm-up: creates the rooms and the statements' plans.
    for (let r = 0; r < rooms; r++) {
      await backend.log.append({
        room: `room-${r}`,
        sender,
        text: "warm-up",
        attachments: [],
        clientMessageId: "",
      });
    }
    const txBefore = transactions(backend);
    let next = 0;
    const worker = async (w: number) => {
      for (let i = next++; i < count; i = next++) {
        await backend.log.append({
          room: `room-${(w + i) % rooms}`,
          sender,
          text: `message ${i} of a benchmark run`,
          attachments: [],
          clientMessageId: `k-${i}`,
        });
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    const seconds = (performance.now() - start) / 1000;
    const txAfter = transactions(backend);
    const tx =
      txBefore !== undefined && txAfter !== undefined ? ` transactions=${txAfter - txBefore}` : "";
    console.log(
      `concurrency=${concurrency} rooms=${rooms} appends=${count} ` +
        `appends/s=${Math.round(count / seconds)}${tx}`,
    );
  } finally {
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const count = Number(process.argv[2] ?? 2000);
const levels = (process.argv[3] ?? "1,16,128").split(",").map(Number);
for (const concurrency of levels) {
  for (const rooms of [1, 8]) await run(count, concurrency, rooms);
}
