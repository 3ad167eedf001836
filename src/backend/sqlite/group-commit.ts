/**
 * Group commit for SQLite writes: writes submitted while the event loop is
 * busy are queued and applied together in ONE transaction, so a batch costs
 * one WAL fsync (`synchronous=FULL`) instead of one per write. Every write's
 * promise settles only after the transaction holding it has committed (or
 * failed), so "resolved = durable" holds for each write.
 *
 * The flush runs on `setImmediate` after the first write of a batch is
 * queued: a lone write waits one macrotask, and writes arriving during a
 * commit (better-sqlite3 blocks the event loop while it fsyncs) form the next
 * batch. A write that throws is rolled back alone and rejects alone; the
 * others of the batch still commit. The batch is first applied without
 * savepoints (two statements less per write); only when a write throws is
 * the transaction rolled back and the batch applied again with a SAVEPOINT
 * per write.
 *
 * @module
 */
import type { Database } from "better-sqlite3";
import type { AbortState } from "../types.js";
import { mapSqliteError } from "./database.js";

/** Default cap on the writes of one transaction. */
export const defaultMaxBatch = 256;
/** Default cap on the (estimated) bytes of one transaction. */
export const defaultMaxBatchBytes = 1024 * 1024;

/** Options of {@link createGroupCommit}. */
export interface GroupCommitOptions<I, R> {
  /** The connection; the group commit opens and ends its transactions. */
  readonly db: Database;
  /**
   * Applies one write inside the batch's transaction and returns its result.
   * Writes of a batch are applied in submit order, so a write sees what the
   * earlier writes of its batch stored. It may run twice for one write (the
   * first time rolled back, when a later write of the batch threw), so it
   * must change nothing outside the database but what `invalidate` resets.
   */
  readonly apply: (input: I) => R;
  /**
   * Called for each successful write, in submit order, after the commit
   * returned and before any promise of the batch settles (e.g. to publish the
   * stored message). What it throws rejects that write's promise.
   */
  readonly committed?: (result: R) => void;
  /**
   * Called when what `apply` may have read from the database since the batch
   * began can no longer be trusted: after a write was rolled back (alone or
   * with its transaction) and when a transaction ended (committed or not).
   * Lets `apply` cache rows for the length of one batch (the transaction
   * holds the write lock, so no other connection changes them meanwhile).
   */
  readonly invalidate?: () => void;
  /** Estimated size of a write in bytes, for {@link GroupCommitOptions.maxBatchBytes}. */
  readonly size?: (input: I) => number;
  /** At most this many writes per transaction (default {@link defaultMaxBatch}). */
  readonly maxBatch?: number;
  /** A transaction takes no further write once it holds this many bytes (default 1 MiB). */
  readonly maxBatchBytes?: number;
}

/** Counters of a {@link GroupCommit}, for tests and benchmarks. */
export interface GroupCommitStats {
  /** Transactions committed (or attempted: a failed commit counts too). */
  readonly transactions: number;
  /** Writes that were applied in a transaction (successful or not). */
  readonly writes: number;
  /** The most writes one transaction held. */
  readonly largestBatch: number;
}

/** Queues writes and commits them in batches. */
export interface GroupCommit<I, R> {
  /**
   * Queues a write; resolves with its result once its transaction has
   * committed. Rejects with the write's own error (mapped by
   * `mapSqliteError`), with the commit's error when the whole transaction
   * failed, or with `signal.reason` when the signal aborted before the write
   * was applied (an applied write is never undone by its signal).
   */
  submit(input: I, signal?: AbortState): Promise<R>;
  /** Commits everything queued now, synchronously (e.g. before closing the database). */
  flush(): void;
  /** Writes queued and not yet applied. */
  readonly pending: number;
  stats(): GroupCommitStats;
}

interface Entry<I, R> {
  readonly input: I;
  readonly signal: AbortState | undefined;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Creates a group commit over `db`.
 *
 * @example
 * const writes = createGroupCommit({ db, apply: (input) => insert(input), committed: publish });
 * const result = await writes.submit(input, signal); // durable now
 */
export function createGroupCommit<I, R>(options: GroupCommitOptions<I, R>): GroupCommit<I, R> {
  const { db, apply, committed, size } = options;
  const invalidate = options.invalidate ?? (() => {});
  const maxBatch = Math.max(1, options.maxBatch ?? defaultMaxBatch);
  const maxBatchBytes = options.maxBatchBytes ?? defaultMaxBatchBytes;
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const rollback = db.prepare("ROLLBACK");
  const savepoint = db.prepare("SAVEPOINT write");
  const release = db.prepare("RELEASE write");
  const rollbackTo = db.prepare("ROLLBACK TO write");
  const queue: Entry<I, R>[] = [];
  let scheduled = false;
  let transactions = 0;
  let writes = 0;
  let largestBatch = 0;

  /** Takes the next batch off the queue, honouring both caps (at least one write). */
  function take(): Entry<I, R>[] {
    let n = 0;
    let bytes = 0;
    while (n < queue.length && n < maxBatch) {
      if (size) {
        bytes += size(queue[n]!.input);
        if (n > 0 && bytes > maxBatchBytes) break;
      }
      n++;
    }
    return queue.splice(0, n);
  }

  /**
   * Applies one write in its savepoint; undoes it alone when it throws. A
   * write alone in its transaction needs no savepoint: the rollback of the
   * transaction undoes it.
   */
  function applyOne(input: I, alone: boolean): Outcome<R> {
    if (alone) {
      try {
        return { ok: true, value: apply(input) };
      } catch (error) {
        invalidate();
        if (db.inTransaction) rollback.run();
        return { ok: false, error: mapSqliteError(error) };
      }
    }
    savepoint.run();
    try {
      const value = apply(input);
      release.run();
      return { ok: true, value };
    } catch (error) {
      invalidate();
      // SQLite may have rolled the whole transaction back (e.g. SQLITE_FULL):
      // then there is no savepoint left, and the caller fails the batch.
      if (db.inTransaction) {
        rollbackTo.run();
        release.run();
      }
      return { ok: false, error: mapSqliteError(error) };
    }
  }

  /**
   * Applies every live write of `batch` with no savepoints, in the open
   * transaction: the common case, where no write throws, costs no
   * SAVEPOINT/RELEASE statement per write. Returns the outcomes, or
   * undefined when a write threw — then the transaction is rolled back (the
   * writes before it are undone too) and the caller runs the batch again
   * with a savepoint per write.
   */
  function applyAll(batch: readonly Entry<I, R>[]): (Outcome<R> | null)[] | undefined {
    const outcomes: (Outcome<R> | null)[] = new Array(batch.length).fill(null);
    try {
      for (let i = 0; i < batch.length; i++) {
        const entry = batch[i]!;
        if (entry.signal?.aborted) continue;
        outcomes[i] = { ok: true, value: apply(entry.input) };
      }
      return outcomes;
    } catch {
      invalidate();
      if (db.inTransaction) rollback.run();
      return undefined;
    }
  }

  /** Runs one transaction over `batch`; returns each write's outcome (null: aborted before). */
  function runBatch(batch: readonly Entry<I, R>[]): (Outcome<R> | null)[] {
    const live = batch.filter((e) => !e.signal?.aborted);
    if (live.length === 0) return batch.map(() => null);
    largestBatch = Math.max(largestBatch, live.length);
    if (live.length > 1) {
      const attempt = transaction(batch, live.length, "optimistic");
      if (attempt !== undefined) return attempt;
      // A write threw: nothing of the batch is stored; each write in its savepoint now.
    }
    return transaction(batch, live.length, "savepoints")!;
  }

  /**
   * One transaction over `batch`: "optimistic" applies the writes without
   * savepoints and returns undefined when one threw (after the rollback);
   * "savepoints" gives each write its own, so a write that throws fails alone.
   */
  function transaction(
    batch: readonly Entry<I, R>[],
    liveCount: number,
    mode: "optimistic" | "savepoints",
  ): (Outcome<R> | null)[] | undefined {
    transactions++;
    writes += liveCount;
    try {
      begin.run();
    } catch (error) {
      const failed: Outcome<R> = { ok: false, error: mapSqliteError(error) };
      return batch.map((e) => (e.signal?.aborted ? null : failed));
    }
    let outcomes: (Outcome<R> | null)[];
    // Set when the transaction is lost (rolled back by SQLite, or COMMIT failed).
    let lost: { error: unknown } | undefined;
    if (mode === "optimistic") {
      const applied = applyAll(batch);
      if (applied === undefined) {
        writes -= liveCount;
        return undefined;
      }
      outcomes = applied;
    } else {
      outcomes = batch.map(() => null);
      for (let i = 0; i < batch.length && lost === undefined; i++) {
        const entry = batch[i]!;
        if (entry.signal?.aborted) continue;
        const outcome = applyOne(entry.input, liveCount === 1);
        outcomes[i] = outcome;
        if (!outcome.ok && !db.inTransaction) lost = { error: outcome.error };
      }
    }
    if (lost === undefined) {
      try {
        commit.run();
        return outcomes;
      } catch (error) {
        lost = { error: mapSqliteError(error) };
      }
    }
    // Nothing of this transaction is stored: every write of it that was not
    // skipped for its signal fails, including those not applied yet.
    if (db.inTransaction) rollback.run();
    const failed: Outcome<R> = { ok: false, error: lost.error };
    return batch.map((e, i) => (outcomes[i] === null && e.signal?.aborted ? null : failed));
  }

  function settle(batch: readonly Entry<I, R>[], outcomes: readonly (Outcome<R> | null)[]): void {
    const results: Outcome<R>[] = outcomes.map((outcome, i) => {
      if (outcome === null) return { ok: false, error: batch[i]!.signal!.reason };
      if (!outcome.ok || !committed) return outcome;
      try {
        committed(outcome.value);
        return outcome;
      } catch (error) {
        return { ok: false, error };
      }
    });
    for (let i = 0; i < batch.length; i++) {
      const result = results[i]!;
      if (result.ok) batch[i]!.resolve(result.value);
      else batch[i]!.reject(result.error);
    }
  }

  function flushOne(): void {
    const batch = take();
    if (batch.length === 0) return;
    let outcomes: (Outcome<R> | null)[];
    try {
      outcomes = runBatch(batch);
      invalidate();
    } catch (error) {
      invalidate();
      // Only a failing ROLLBACK (TO) gets here. Nothing of the batch is
      // known to be stored; no promise is left unsettled, and no transaction
      // is left open to block the next batch.
      if (db.inTransaction) {
        try {
          rollback.run();
        } catch {
          // The error reported to the writes is the first one.
        }
      }
      const failed: Outcome<R> = { ok: false, error: mapSqliteError(error) };
      outcomes = batch.map(() => failed);
    }
    settle(batch, outcomes);
  }

  function onImmediate(): void {
    scheduled = false;
    flushOne();
    // A capped batch leaves writes queued: commit them next turn, letting I/O in between.
    if (queue.length > 0) schedule();
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(onImmediate);
  }

  return {
    submit(input, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<R>((resolve, reject) => {
        queue.push({ input, signal, resolve, reject });
        schedule();
      });
    },
    flush() {
      while (queue.length > 0) flushOne();
    },
    get pending() {
      return queue.length;
    },
    stats: () => ({ transactions, writes, largestBatch }),
  };
}
