/**
 * In-memory {@link BlobStore}: committed files are kept as one byte array and
 * streamed out in 64 KiB slices.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { BackendClosedError, NotFoundError, OutOfRangeError } from "../errors.js";
import type { BlobStore, BlobWriter, StoredFile } from "../types.js";

/** Size of the chunks `read` yields. */
export const blobReadChunkBytes = 64 * 1024;

/** A {@link BlobStore} kept in memory. */
export interface MemoryBlobStore extends BlobStore {
  /** Aborts open uploads and drops all files; later calls reject. Idempotent. */
  close(): void;
}

interface Blob {
  readonly file: StoredFile;
  readonly data: Uint8Array;
}

/**
 * Checks a `read` offset against a file size: an offset equal to the size is
 * valid (nothing to read); beyond it, or negative, is {@link OutOfRangeError}.
 */
export function checkReadOffset(file: StoredFile, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > file.size) {
    throw new OutOfRangeError(
      `offset ${offset} is past the end of file ${file.id} (${file.size} bytes)`,
    );
  }
}

/** The {@link NotFoundError} for an unknown file id. */
export function fileNotFound(id: string): NotFoundError {
  return new NotFoundError(`file ${JSON.stringify(id)} not found`);
}

/**
 * Creates an in-memory blob store.
 *
 * @example
 * const blobs = createMemoryBlobStore();
 * const w = await blobs.create({ name: "a.txt", contentType: "text/plain", room: "", uploader });
 * await w.write(new TextEncoder().encode("hello"));
 * const file = await w.commit(); // file.size === 5
 */
export function createMemoryBlobStore(): MemoryBlobStore {
  const blobs = new Map<string, Blob>();
  const open = new Set<() => void>();
  let closed = false;

  function check(): void {
    if (closed) throw new BackendClosedError();
  }

  return {
    get openUploads() {
      return open.size;
    },
    async create(meta): Promise<BlobWriter> {
      check();
      const chunks: Uint8Array[] = [];
      const hash = createHash("sha256");
      let size = 0;
      let state: "open" | "committed" | "aborted" = "open";
      const abort = () => {
        if (state !== "open") return;
        state = "aborted";
        chunks.length = 0;
        open.delete(abort);
      };
      open.add(abort);
      return {
        get size() {
          return size;
        },
        async write(chunk) {
          check();
          if (state !== "open") throw new Error(`upload already ${state}`);
          const copy = chunk.slice();
          chunks.push(copy);
          hash.update(copy);
          size += copy.byteLength;
        },
        async commit() {
          check();
          if (state !== "open") throw new Error(`upload already ${state}`);
          state = "committed";
          open.delete(abort);
          const file: StoredFile = Object.freeze({
            id: globalThis.crypto.randomUUID(),
            name: meta.name,
            contentType: meta.contentType,
            size,
            sha256: hash.digest("hex"),
            room: meta.room,
            uploader: Object.freeze({ id: meta.uploader.id, name: meta.uploader.name }),
            createdAt: Date.now(),
          });
          blobs.set(file.id, { file, data: Buffer.concat(chunks) });
          chunks.length = 0;
          return file;
        },
        async abort() {
          abort();
        },
      };
    },
    async stat(id) {
      check();
      const blob = blobs.get(id);
      if (!blob) throw fileNotFound(id);
      return blob.file;
    },
    async *read(id, offset, signal) {
      check();
      const blob = blobs.get(id);
      if (!blob) throw fileNotFound(id);
      checkReadOffset(blob.file, offset);
      for (let pos = offset; pos < blob.data.byteLength; pos += blobReadChunkBytes) {
        signal?.throwIfAborted();
        check();
        yield blob.data.slice(pos, pos + blobReadChunkBytes);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const abort of [...open]) abort();
      blobs.clear();
    },
  };
}
