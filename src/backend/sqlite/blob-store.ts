/**
 * SQLite-indexed {@link BlobStore}: bytes on disk at `<dataDir>/files/<id>`,
 * metadata in the `files` table. An upload is written to
 * `<dataDir>/tmp/<random>` while hashing, then fsynced and renamed on commit.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Database } from "better-sqlite3";
import { BackendClosedError } from "../errors.js";
import { blobReadChunkBytes, checkReadOffset, fileNotFound } from "../memory/blob-store.js";
import type { BlobStore, BlobWriter, StoredFile } from "../types.js";
import { mapSqliteError, type SqliteLayout } from "./database.js";

/** A {@link BlobStore} on disk, indexed in SQLite. */
export interface SqliteBlobStore extends BlobStore {
  /** Aborts every open upload (deleting its temp file). Call before closing the database. */
  abortAll(): Promise<void>;
}

/** Options of {@link createSqliteBlobStore}. */
export interface SqliteBlobStoreOptions {
  readonly db: Database;
  readonly layout: SqliteLayout;
  /** True once the backend is closed. */
  readonly isClosed: () => boolean;
}

interface FileRow {
  id: string;
  name: string;
  content_type: string;
  size: bigint;
  sha256: string;
  room: string;
  uploader_id: string;
  uploader_name: string;
  created_at: bigint;
}

function toFile(row: FileRow): StoredFile {
  return Object.freeze({
    id: row.id,
    name: row.name,
    contentType: row.content_type,
    size: Number(row.size),
    sha256: row.sha256,
    room: row.room,
    uploader: Object.freeze({ id: row.uploader_id, name: row.uploader_name }),
    createdAt: Number(row.created_at),
  });
}

/** Runs `stop` (end or destroy) and resolves once the stream has closed its file descriptor. */
function closeStream(stream: WriteStream, stop: () => void): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once("close", resolve);
    stop();
  });
}

/** Flushes a written file's bytes to stable storage. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename durable: fsync the directory holding the new name (no-op where unsupported). */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    if (process.platform !== "win32") throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * Creates the on-disk blob store.
 *
 * @example
 * const blobs = createSqliteBlobStore({ db, layout: sqliteLayout(dir), isClosed: () => closed });
 */
export function createSqliteBlobStore(options: SqliteBlobStoreOptions): SqliteBlobStore {
  const { db, layout, isClosed } = options;
  const findFile = db.prepare<[string], FileRow>(
    `SELECT id, name, content_type, size, sha256, room, uploader_id, uploader_name, created_at
     FROM files WHERE id = ?`,
  );
  const insertFile = db.prepare(
    `INSERT INTO files (id, name, content_type, size, sha256, room, uploader_id, uploader_name, created_at)
     VALUES (@id, @name, @content_type, @size, @sha256, @room, @uploader_id, @uploader_name, @created_at)`,
  );
  /** Aborts of the uploads neither committed nor aborted. */
  const openWriters = new Set<() => Promise<void>>();

  function check(): void {
    if (isClosed()) throw new BackendClosedError();
  }

  function lookup(id: string): StoredFile {
    check();
    let row: FileRow | undefined;
    try {
      row = findFile.get(id);
    } catch (error) {
      throw mapSqliteError(error);
    }
    if (!row) throw fileNotFound(id);
    return toFile(row);
  }

  return {
    get openUploads() {
      return openWriters.size;
    },

    async create(meta): Promise<BlobWriter> {
      check();
      const tmpPath = join(layout.tmpDir, globalThis.crypto.randomUUID());
      const stream = createWriteStream(tmpPath, { flags: "wx", mode: 0o600 });
      await once(stream, "ready");
      const stopWaiting = new AbortController();
      const hash = createHash("sha256");
      let failure: unknown;
      stream.on("error", (error) => {
        failure ??= error;
      });
      let size = 0;
      let state: "open" | "committing" | "committed" | "aborted" = "open";
      let committing: Promise<unknown> | undefined;

      const discard = async () => {
        stopWaiting.abort();
        await closeStream(stream, () => stream.destroy());
        await rm(tmpPath, { force: true });
      };
      const abort = async () => {
        // A commit in flight finishes (or cleans up) on its own; wait for it.
        if (state === "committing") await committing?.catch(() => {});
        if (state !== "open") return;
        state = "aborted";
        openWriters.delete(abort);
        await discard();
      };
      openWriters.add(abort);

      return {
        get size() {
          return size;
        },
        async write(chunk) {
          check();
          if (state !== "open") throw new Error(`upload already ${state}`);
          if (failure) throw failure;
          // Copy: the caller may reuse its buffer once this resolves.
          const copy = Buffer.from(chunk);
          hash.update(copy);
          size += copy.byteLength;
          if (!stream.write(copy)) await once(stream, "drain", { signal: stopWaiting.signal });
        },
        commit() {
          if (isClosed()) return Promise.reject(new BackendClosedError());
          if (state !== "open") return Promise.reject(new Error(`upload already ${state}`));
          state = "committing";
          committing = finishCommit();
          return committing as Promise<StoredFile>;
        },
        abort,
      };

      async function finishCommit(): Promise<StoredFile> {
        const id = globalThis.crypto.randomUUID();
        const finalPath = join(layout.filesDir, id);
        let renamed = false;
        try {
          await closeStream(stream, () => stream.end());
          if (failure) throw failure;
          await syncFile(tmpPath);
          await rename(tmpPath, finalPath);
          renamed = true;
          await syncDir(layout.filesDir);
          check();
          const file: StoredFile = Object.freeze({
            id,
            name: meta.name,
            contentType: meta.contentType,
            size,
            sha256: hash.digest("hex"),
            room: meta.room,
            uploader: Object.freeze({ id: meta.uploader.id, name: meta.uploader.name }),
            createdAt: Date.now(),
          });
          insertFile.run({
            id,
            name: file.name,
            content_type: file.contentType,
            size: file.size,
            sha256: file.sha256,
            room: file.room,
            uploader_id: file.uploader.id,
            uploader_name: file.uploader.name,
            created_at: file.createdAt,
          });
          state = "committed";
          return file;
        } catch (error) {
          state = "aborted";
          await discard();
          if (renamed) await rm(finalPath, { force: true });
          throw mapSqliteError(error);
        } finally {
          openWriters.delete(abort);
        }
      }
    },

    async stat(id) {
      return lookup(id);
    },

    async *read(id, offset, signal) {
      signal?.throwIfAborted();
      const file = lookup(id);
      checkReadOffset(file, offset);
      if (offset === file.size) return;
      const stream = createReadStream(join(layout.filesDir, file.id), {
        start: offset,
        highWaterMark: blobReadChunkBytes,
        signal,
      });
      try {
        for await (const chunk of stream) {
          check();
          yield chunk as Buffer;
        }
      } finally {
        stream.destroy();
      }
    },

    async abortAll() {
      await Promise.all([...openWriters].map((abort) => abort()));
    },
  };
}
