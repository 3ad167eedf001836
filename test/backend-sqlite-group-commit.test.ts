/**
 * Group commit of the SQLite message log (src/backend/sqlite/group-commit.ts):
 * concurrent appends share transactions (capped by count and bytes), offsets stay dense and in submit
 * order per room, duplicates within a batch are deduplicated, a failing
 * append fails alone (or, when SQLite loses the whole transaction, the whole
 * batch fails and nothing of it is stored), aborted appends are skipped,
 * close() commits what is queued, and every acknowledged append survives a
 * SIGKILL of the process that made it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import type { Database } from "better-sqlite3";
import { openDatabase, sqliteLayout } from "../src/backend/sqlite/database.js";
import { createGroupCommit } from "../src/backend/sqlite/group-commit.js";
import { createSqliteBackend } from "../src/backend/sqlite/index.js";
import {
  createSqliteMessageLog,
  type SqliteMessageLog,
} from "../src/backend/sqlite/message-log.js";
import { readDatabaseEpoch } from "../src/backend/sqlite/schema.js";
import type { AppendInput, AppendResult, StoredMessage } from "../src/backend/types.js";

const ada = { id: "ada", name: "Ada" };

function msg(room: string, text: string, clientMessageId = ""): AppendInput {
  return { room, sender: ada, text, attachments: [], clientMessageId };
}

interface Harness {
  readonly db: Database;
  readonly log: SqliteMessageLog;
  readonly published: StoredMessage[];
  close(): void;
}

describe("sqlite group commit", () => {
  const dirs: string[] = [];
  async function freshDir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), "switchboard-group-commit-"));
    dirs.push(d);
    return d;
  }
  after(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  /** A message log on its own database, publishing into `published`. */
  async function harness(maxBatch?: number): Promise<Harness> {
    const db = openDatabase(sqliteLayout(await freshDir()));
    const published: StoredMessage[] = [];
    let closed = false;
    const log = createSqliteMessageLog({
      db,
      epoch: readDatabaseEpoch(db),
      publish: (m) => published.push(m),
      isClosed: () => closed,
      ...(maxBatch !== undefined ? { maxBatch } : {}),
    });
    return {
      db,
      log,
      published,
      close() {
        closed = true;
        log.flush();
        db.close();
      },
    };
  }

  it("concurrent appends across rooms share one transaction per batch, offsets dense in submit order", async () => {
    const h = await harness();
    try {
      const before = h.log.stats().transactions;
      const inputs = Array.from({ length: 300 }, (_, i) => msg(`room-${i % 3}`, `m${i}`));
      const results = await Promise.all(inputs.map((input) => h.log.append(input)));
      const stats = h.log.stats();
      // 300 appends queued in one turn, at most 256 per transaction.
      assert.equal(stats.transactions - before, 2);
      assert.equal(stats.largestBatch, 256);
      for (let r = 0; r < 3; r++) {
        const mine = results.filter((res) => res.message.room === `room-${r}`);
        assert.deepEqual(
          mine.map((res) => res.message.offset),
          mine.map((_, i) => BigInt(i + 1)),
        );
        assert.deepEqual(
          mine.map((res) => res.message.text),
          inputs.filter((input) => input.room === `room-${r}`).map((input) => input.text),
        );
        const page = await h.log.read(`room-${r}`, {
          direction: "forward",
          offset: 0n,
          limit: 1000,
        });
        assert.deepEqual(
          page.messages,
          mine.map((res) => res.message),
        );
        assert.equal(page.info.headOffset, 100n);
      }
      // Published once each, in offset order per room.
      assert.deepEqual(
        h.published,
        results.map((res) => res.message),
      );
    } finally {
      h.close();
    }
  });

  it("batches are capped by count and by estimated bytes", async () => {
    const h = await harness(10);
    try {
      const before = h.log.stats().transactions;
      await Promise.all(Array.from({ length: 25 }, (_, i) => h.log.append(msg("cap", `m${i}`))));
      assert.equal(h.log.stats().transactions - before, 3);
      assert.equal(h.log.stats().largestBatch, 10);
      h.db.exec("CREATE TEMP TABLE sized (n INTEGER NOT NULL)");
      const insert = h.db.prepare("INSERT INTO sized (n) VALUES (?)");
      const sized = createGroupCommit<number, number>({
        db: h.db,
        apply: (n) => Number(insert.run(n).changes),
        size: () => 400,
        maxBatchBytes: 1000,
      });
      await Promise.all([1, 2, 3, 4, 5].map((n) => sized.submit(n)));
      assert.deepEqual(sized.stats(), { transactions: 3, writes: 5, largestBatch: 2 });
    } finally {
      h.close();
    }
  });

  it("a lone append waits for no one: one append, one transaction", async () => {
    const h = await harness();
    try {
      const before = h.log.stats().transactions;
      for (let i = 0; i < 3; i++) await h.log.append(msg("solo", `m${i}`));
      assert.equal(h.log.stats().transactions - before, 3);
    } finally {
      h.close();
    }
  });

  it("a duplicate idempotency key within one batch gets the first append's message", async () => {
    const h = await harness();
    try {
      const [first, other, again, byOther] = await Promise.all([
        h.log.append(msg("dup", "first", "k")),
        h.log.append(msg("dup", "no key")),
        h.log.append(msg("dup", "changed text", "k")),
        h.log.append({ ...msg("dup", "bob's", "k"), sender: { id: "bob", name: "Bob" } }),
      ]);
      assert.equal(h.log.stats().largestBatch, 4);
      assert.equal(first!.duplicate, false);
      assert.equal(again!.duplicate, true);
      assert.deepEqual(again!.message, first!.message);
      assert.equal(byOther!.duplicate, false);
      assert.deepEqual(
        [first!, other!, byOther!].map((r) => r.message.offset),
        [1n, 2n, 3n],
      );
      assert.equal(h.published.length, 3);
      const page = await h.log.read("dup", { direction: "forward", offset: 0n, limit: 10 });
      assert.equal(page.messages.length, 3);
    } finally {
      h.close();
    }
  });

  it("an append that fails is rolled back alone; the rest of its batch commits", async () => {
    const h = await harness();
    try {
      h.db.exec(`CREATE TEMP TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.text = 'boom'
        BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`);
      const settled = await Promise.allSettled([
        h.log.append(msg("fail", "a")),
        h.log.append(msg("fail-new-room", "boom")),
        h.log.append(msg("fail", "boom")),
        h.log.append(msg("fail", "b")),
      ]);
      assert.equal(h.log.stats().largestBatch, 4);
      const ok = (i: number) => (settled[i] as PromiseFulfilledResult<AppendResult>).value;
      assert.equal(settled[0]!.status, "fulfilled");
      assert.equal(settled[3]!.status, "fulfilled");
      for (const i of [1, 2]) {
        assert.equal(settled[i]!.status, "rejected");
        assert.match(
          String((settled[i] as PromiseRejectedResult).reason),
          /refused by test trigger/,
        );
      }
      assert.deepEqual([ok(0).message.offset, ok(3).message.offset], [1n, 2n]);
      // The failed append's room row (created in its savepoint) is gone too.
      assert.equal(
        h.db.prepare("SELECT count(*) FROM rooms WHERE room = 'fail-new-room'").pluck().get(),
        0n,
      );
      assert.deepEqual(
        h.published.map((m) => m.text),
        ["a", "b"],
      );
      const next = await h.log.append(msg("fail", "c"));
      assert.equal(next.message.offset, 3n);
    } finally {
      h.close();
    }
  });

  it("when SQLite rolls the whole transaction back, every append of the batch fails and none is stored", async () => {
    const h = await harness();
    try {
      h.db.exec(`CREATE TEMP TRIGGER lose BEFORE INSERT ON messages WHEN NEW.text = 'lose'
        BEGIN SELECT RAISE(ROLLBACK, 'transaction lost by test trigger'); END`);
      const settled = await Promise.allSettled([
        h.log.append(msg("lost", "a")),
        h.log.append(msg("lost", "lose")),
        h.log.append(msg("lost", "b")),
      ]);
      for (const s of settled) {
        assert.equal(s.status, "rejected");
        assert.match(
          String((s as PromiseRejectedResult).reason),
          /transaction lost by test trigger/,
        );
      }
      assert.equal(h.db.inTransaction, false);
      assert.deepEqual(h.published, []);
      assert.equal((await h.log.info("lost")).headOffset, 0n);
      const next = await h.log.append(msg("lost", "after"));
      assert.equal(next.message.offset, 1n);
    } finally {
      h.close();
    }
  });

  it("an append whose signal aborts before its batch runs is skipped and rejects with the reason", async () => {
    const h = await harness();
    try {
      const controller = new AbortController();
      const kept = h.log.append(msg("abort", "kept"));
      const dropped = h.log.append(msg("abort", "dropped"), controller.signal);
      controller.abort(new Error("caller went away"));
      await assert.rejects(
        h.log.append(msg("abort", "late"), controller.signal),
        /caller went away/,
      );
      await assert.rejects(dropped, /caller went away/);
      assert.equal((await kept).message.offset, 1n);
      const page = await h.log.read("abort", { direction: "forward", offset: 0n, limit: 10 });
      assert.deepEqual(
        page.messages.map((m) => m.text),
        ["kept"],
      );
    } finally {
      h.close();
    }
  });

  it("close() commits and publishes the appends still queued, then refuses new ones", async () => {
    const dataDir = await freshDir();
    const backend = createSqliteBackend({ dataDir });
    const seen: StoredMessage[] = [];
    let ended: Error | undefined;
    await backend.fanout.subscribe("q", (m) => seen.push(m), {
      onEnd: (e) => {
        ended = e;
      },
    });
    const queued = [backend.log.append(msg("q", "one")), backend.log.append(msg("q", "two"))];
    await backend.close();
    const results = await Promise.all(queued);
    assert.deepEqual(
      results.map((r) => r.message.offset),
      [1n, 2n],
    );
    assert.deepEqual(
      seen.map((m) => m.text),
      ["one", "two"],
    );
    assert.equal(ended?.name, "BackendClosedError");
    await assert.rejects(backend.log.append(msg("q", "three")), { name: "BackendClosedError" });
    const reopened = createSqliteBackend({ dataDir });
    try {
      assert.equal((await reopened.log.info("q")).headOffset, 2n);
    } finally {
      await reopened.close();
    }
  });

  it("every append acknowledged by a process survives its SIGKILL, offsets dense per room", async () => {
    const dataDir = await freshDir();
    const entry = pathToFileURL(
      new URL("../src/backend/sqlite/index.ts", import.meta.url).pathname,
    ).href;
    // 32 concurrent writers over 4 rooms, printing each acknowledged append.
    const code = `
      const { createSqliteBackend } = await import(${JSON.stringify(entry)});
      const b = createSqliteBackend({ dataDir: ${JSON.stringify(dataDir)} });
      const sender = { id: "w", name: "W" };
      let n = 0;
      const worker = async (w) => {
        for (;;) {
          const i = n++;
          const { message } = await b.log.append({ room: "r" + (i % 4), sender, text: "m" + i, attachments: [], clientMessageId: "k" + i });
          process.stdout.write(JSON.stringify({ room: message.room, offset: String(message.offset), id: message.id, text: message.text }) + "\\n");
        }
      };
      for (let w = 0; w < 32; w++) worker(w);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const acked: { room: string; offset: string; id: string; text: string }[] = [];
    try {
      let buffer = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        buffer += d;
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) acked.push(JSON.parse(line));
      });
      while (acked.length < 2000 && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill("SIGKILL");
      await once(child, "exit");
    } finally {
      clearTimeout(killer);
      child.kill("SIGKILL");
    }
    assert.ok(acked.length >= 2000, `the child acknowledged ${acked.length} appends`);
    const backend = createSqliteBackend({ dataDir });
    try {
      const stored = new Map<string, StoredMessage>();
      for (let r = 0; r < 4; r++) {
        const page = await backend.log.read(`r${r}`, {
          direction: "forward",
          offset: 0n,
          limit: 100_000,
        });
        assert.deepEqual(
          page.messages.map((m) => m.offset),
          page.messages.map((_, i) => BigInt(i + 1)),
          "offsets dense",
        );
        for (const m of page.messages) stored.set(`${m.room}/${m.offset}`, m);
      }
      for (const a of acked) {
        const m = stored.get(`${a.room}/${a.offset}`);
        assert.ok(m, `acknowledged ${a.room}/${a.offset} is stored`);
        assert.equal(m.id, a.id);
        assert.equal(m.text, a.text);
      }
    } finally {
      await backend.close();
    }
  });
});
