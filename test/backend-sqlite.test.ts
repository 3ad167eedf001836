import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { createSqliteBackend, schemaVersion, sqliteLayout } from "../src/backend/sqlite/index.js";
import type { Backend, StoredFile } from "../src/backend/types.js";

const uploader = { id: "ada", name: "Ada" };

async function upload(backend: Backend, text: string): Promise<StoredFile> {
  const w = await backend.blobs.create({
    name: "t.txt",
    contentType: "text/plain",
    room: "",
    uploader,
  });
  await w.write(new TextEncoder().encode(text));
  return w.commit();
}

function mode(s: { mode: number }): number {
  return s.mode & 0o777;
}

describe("sqlite backend", () => {
  const dirs: string[] = [];
  async function freshDir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), "switchboard-sqlite-"));
    dirs.push(d);
    return d;
  }
  after(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it("creates the data directory, its subdirectories and its files with private permissions", async () => {
    const dataDir = join(await freshDir(), "nested", "data");
    const layout = sqliteLayout(dataDir);
    const backend = createSqliteBackend({ dataDir });
    try {
      await backend.log.append({
        room: "r",
        sender: uploader,
        text: "x",
        attachments: [],
        clientMessageId: "",
      });
      const file = await upload(backend, "secret");
      for (const dir of [layout.dataDir, layout.filesDir, layout.tmpDir]) {
        assert.equal(mode(await stat(dir)), 0o700, dir);
      }
      assert.equal(mode(await stat(layout.dbFile)), 0o600);
      assert.equal(mode(await stat(`${layout.dbFile}-wal`)), 0o600);
      assert.equal(mode(await stat(join(layout.filesDir, file.id))), 0o600);
    } finally {
      await backend.close();
    }
  });

  it("deletes leftover upload temp files and unindexed file bytes at open, keeping committed files", async () => {
    const dataDir = await freshDir();
    const layout = sqliteLayout(dataDir);
    const first = createSqliteBackend({ dataDir });
    const kept = await upload(first, "kept");
    await first.close();
    await writeFile(join(layout.tmpDir, "crashed-upload"), "partial");
    await writeFile(join(layout.filesDir, "renamed-but-not-indexed"), "orphan");
    const second = createSqliteBackend({ dataDir });
    try {
      assert.deepEqual(await readdir(layout.tmpDir), []);
      assert.deepEqual(await readdir(layout.filesDir), [kept.id]);
      assert.deepEqual(await second.blobs.stat(kept.id), kept);
    } finally {
      await second.close();
    }
  });

  it("leaves nothing in tmp/ after a commit, an abort, or a close with an upload in progress", async () => {
    const dataDir = await freshDir();
    const { tmpDir } = sqliteLayout(dataDir);
    const backend = createSqliteBackend({ dataDir });
    await upload(backend, "committed");
    assert.deepEqual(await readdir(tmpDir), []);
    const aborted = await backend.blobs.create({ name: "a", contentType: "", room: "", uploader });
    await aborted.write(new Uint8Array(300_000));
    assert.equal((await readdir(tmpDir)).length, 1);
    await aborted.abort();
    assert.deepEqual(await readdir(tmpDir), []);
    const pending = await backend.blobs.create({ name: "p", contentType: "", room: "", uploader });
    await pending.write(new Uint8Array(1000));
    await backend.close();
    assert.equal(backend.blobs.openUploads, 0);
    assert.deepEqual(await readdir(tmpDir), []);
  });

  it("a close during a commit waits for it, rejects it with BackendClosedError and leaves no file", async () => {
    const dataDir = await freshDir();
    const { tmpDir, filesDir } = sqliteLayout(dataDir);
    const backend = createSqliteBackend({ dataDir });
    const w = await backend.blobs.create({ name: "c", contentType: "", room: "", uploader });
    await w.write(new Uint8Array(100_000));
    const commit = w.commit();
    await backend.close();
    await assert.rejects(commit, { name: "BackendClosedError" });
    assert.equal(backend.blobs.openUploads, 0);
    assert.deepEqual(await readdir(tmpDir), []);
    assert.deepEqual(await readdir(filesDir), []);
  });

  it("writes a database in WAL mode at the current schema version", async () => {
    const dataDir = await freshDir();
    await createSqliteBackend({ dataDir }).close();
    const db = new Database(sqliteLayout(dataDir).dbFile, { readonly: true });
    try {
      assert.equal(db.pragma("user_version", { simple: true }), schemaVersion);
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    } finally {
      db.close();
    }
  });

  it("refuses a database written by a newer schema version", async () => {
    const dataDir = await freshDir();
    await createSqliteBackend({ dataDir }).close();
    const db = new Database(sqliteLayout(dataDir).dbFile);
    db.pragma(`user_version = ${schemaVersion + 1}`);
    db.close();
    assert.throws(() => createSqliteBackend({ dataDir }), /newer than this server supports/);
  });

  it("gives rooms a new epoch and drops file bytes when the database is lost", async () => {
    const dataDir = await freshDir();
    const layout = sqliteLayout(dataDir);
    const first = createSqliteBackend({ dataDir });
    const { message } = await first.log.append({
      room: "r",
      sender: uploader,
      text: "x",
      attachments: [],
      clientMessageId: "",
    });
    const file = await upload(first, "gone");
    await first.close();
    for (const suffix of ["", "-wal", "-shm"])
      await rm(`${layout.dbFile}${suffix}`, { force: true });
    const second = createSqliteBackend({ dataDir });
    try {
      const info = await second.log.info("r");
      assert.notEqual(info.epoch, message.epoch);
      assert.equal(info.headOffset, 0n);
      await assert.rejects(second.blobs.stat(file.id), { name: "NotFoundError" });
      assert.deepEqual(await readdir(layout.filesDir), []);
    } finally {
      await second.close();
    }
  });
});
