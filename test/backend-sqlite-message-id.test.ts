/**
 * Ids of stored SQLite messages (src/backend/sqlite/message-id.ts): RFC 9562
 * version 7 UUIDs that start with the store time in milliseconds, unique,
 * and, across milliseconds, in time order — over a real message log.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openDatabase, sqliteLayout } from "../src/backend/sqlite/database.js";
import { timeOrderedId } from "../src/backend/sqlite/message-id.js";
import { createSqliteMessageLog } from "../src/backend/sqlite/message-log.js";
import { readDatabaseEpoch } from "../src/backend/sqlite/schema.js";

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The Unix time in milliseconds a version 7 UUID starts with. */
const timeOf = (id: string) => Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);

describe("sqlite message ids", () => {
  it("are version 7 UUIDs carrying their time, unique, ordered across milliseconds", () => {
    const t = Date.UTC(2026, 11, 5, 12, 0, 0, 123);
    const ids = Array.from({ length: 2000 }, (_, i) => timeOrderedId(t + Math.floor(i / 100)));
    for (const id of ids) assert.match(id, uuidV7);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(timeOf(ids[0]!), t);
    assert.equal(timeOf(ids.at(-1)!), t + 19);
    for (let i = 100; i < ids.length; i += 100) assert.ok(ids[i - 1]! < ids[i]!, `${i}`);
  });

  it("a stored message's id starts with the time it was stored at", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-message-id-"));
    const db = openDatabase(sqliteLayout(dir));
    const log = createSqliteMessageLog({
      db,
      epoch: readDatabaseEpoch(db),
      publish: () => {},
      isClosed: () => false,
    });
    try {
      const sender = { id: "ada", name: "Ada" };
      const results = await Promise.all(
        ["a", "b", "c"].map((text) =>
          log.append({ room: "ids", sender, text, attachments: [], clientMessageId: "" }),
        ),
      );
      for (const { message } of results) {
        assert.match(message.id, uuidV7);
        assert.equal(timeOf(message.id), Number(message.time));
      }
      assert.equal(new Set(results.map((r) => r.message.id)).size, 3);
    } finally {
      log.flush();
      db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
