/**
 * JetStream Object Store {@link BlobStore}: bucket `<prefix>_files`, one
 * object per file, named by the file id.
 *
 * Upload: `write()` feeds a ReadableStream (high-water mark: one chunk) that
 * the Object Store `put` reads and publishes in 64 KiB chunks, each awaited
 * (PubAck), so a slow server slows the writer down and the file is never
 * held in memory. The object becomes visible only when `put` writes its
 * metadata record, after the last chunk: that is `commit()`. `abort()`
 * errors the stream; `put` then purges the chunks it already stored, so
 * nothing visible and nothing stored remains. SHA-256 is computed while
 * streaming (node:crypto) and checked against the Object Store's digest.
 *
 * File metadata: name, content type, room and uploader are the object's
 * description (JSON); size, sha256 and createdAt come from the object info
 * (size, digest, mtime), so a file is described by one record.
 *
 * Download: reads the object's chunk subject with a cursor; an offset skips
 * whole chunks without transferring them (a headers-only pass finds the
 * sequence of the first needed chunk), then slices the first one.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { JsMsg } from "@nats-io/jetstream";
import type { ObjectInfo, ObjectStore } from "@nats-io/obj";
import { BackendClosedError, BackendUnavailableError } from "../errors.js";
import { blobReadChunkBytes, checkReadOffset, fileNotFound } from "../memory/blob-store.js";
import type { BlobStore, BlobWriter, StoredFile, UserRef } from "../types.js";
import type { JetStreamConnection } from "./connection.js";
import { openCursor } from "./cursor.js";

/** The blob store with the hook the backend needs at close. */
export interface JetStreamBlobStore extends BlobStore {
  /** Aborts every open upload. */
  abortAll(): Promise<void>;
}

/** Options of {@link createJetStreamBlobStore}. */
export interface JetStreamBlobStoreOptions {
  readonly conn: JetStreamConnection;
  readonly store: ObjectStore;
  /** The bucket name (its stream is `OBJ_<bucket>`). */
  readonly bucket: string;
  readonly requestTimeoutMs: number;
}

interface Description {
  readonly name: string;
  readonly contentType: string;
  readonly room: string;
  readonly uploader: UserRef;
}

const idPattern = /^[0-9a-f]{32}$/;
/** Chunk size of stored objects (also the largest chunk `read` yields). */
const objectChunkBytes = 64 * 1024;
/** Chunks fetched per request while downloading (bounds memory per download). */
const downloadBatch = 8;

function hexDigest(info: ObjectInfo): string {
  const b64 = info.digest.replace(/^SHA-256=/, "");
  return Buffer.from(b64, "base64url").toString("hex");
}

function toFile(info: ObjectInfo): StoredFile {
  const d = JSON.parse(info.description ?? "") as Description;
  return Object.freeze({
    id: info.name,
    name: d.name,
    contentType: d.contentType,
    size: info.size,
    sha256: hexDigest(info),
    room: d.room,
    uploader: Object.freeze({ id: d.uploader.id, name: d.uploader.name }),
    createdAt: Date.parse(info.mtime),
  });
}

/**
 * Creates the blob store on an open Object Store bucket.
 *
 * @example
 * const blobs = createJetStreamBlobStore({ conn, store, bucket: "switchboard_files", requestTimeoutMs: 5000 });
 */
export function createJetStreamBlobStore(options: JetStreamBlobStoreOptions): JetStreamBlobStore {
  const { conn, store, bucket } = options;
  const openWriters = new Set<() => Promise<void>>();

  async function lookup(id: string): Promise<ObjectInfo> {
    conn.check();
    if (!idPattern.test(id)) throw fileNotFound(id);
    let info: ObjectInfo | null;
    try {
      info = await store.info(id);
    } catch (error) {
      throw conn.toBackendError(error);
    }
    if (!info || info.deleted) throw fileNotFound(id);
    return info;
  }

  /** Sequence of the `index`-th chunk (0-based) of an object, skimming headers only. */
  async function chunkSeq(filter: string, index: number): Promise<number> {
    const cursor = await openCursor(conn, {
      stream: `OBJ_${bucket}`,
      filter,
      headersOnly: true,
      timeoutMs: options.requestTimeoutMs,
    });
    try {
      let seen = 0;
      for (;;) {
        const batch = await cursor.next(Math.min(1024, index + 1 - seen));
        if (batch.length === 0) throw new BackendUnavailableError("object chunks are missing");
        seen += batch.length;
        if (seen > index) return batch.at(-1)!.seq;
      }
    } finally {
      cursor.close();
    }
  }

  return {
    get openUploads() {
      return openWriters.size;
    },

    async create(meta): Promise<BlobWriter> {
      conn.check();
      const id = globalThis.crypto.randomUUID().replaceAll("-", "");
      const hash = createHash("sha256");
      let size = 0;
      let state: "open" | "committing" | "committed" | "aborted" = "open";
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      let drained: (() => void) | undefined;
      const body = new ReadableStream<Uint8Array>(
        {
          start(c) {
            controller = c;
          },
          pull() {
            drained?.();
            drained = undefined;
          },
        },
        { highWaterMark: 1 },
      );
      const description: Description = {
        name: meta.name,
        contentType: meta.contentType,
        room: meta.room,
        uploader: { id: meta.uploader.id, name: meta.uploader.name },
      };
      const put = store.put(
        {
          name: id,
          description: JSON.stringify(description),
          options: { max_chunk_size: objectChunkBytes },
        },
        body,
        { timeout: options.requestTimeoutMs },
      );
      const putFailed = put.then(
        () => new Promise<never>(() => {}),
        (error: unknown) => Promise.reject(error),
      );
      putFailed.catch(() => {});

      const abort = async (): Promise<void> => {
        if (state === "aborted" || state === "committed") return;
        const wasCommitting = state === "committing";
        state = "aborted";
        openWriters.delete(abort);
        if (!wasCommitting) controller.error(new Error("upload aborted"));
        const done = await put.then(
          () => true,
          () => false,
        );
        // Committed in the meantime: an abort still means no visible file.
        if (done) await store.delete(id).catch(() => {});
      };
      openWriters.add(abort);

      return {
        get size() {
          return size;
        },
        async write(chunk) {
          if (state !== "open") throw new Error(`upload is ${state}`);
          if (conn.closed) throw new BackendClosedError();
          conn.check();
          const copy = chunk.slice();
          hash.update(copy);
          size += copy.length;
          controller.enqueue(copy);
          if ((controller.desiredSize ?? 0) > 0) return;
          try {
            await Promise.race([new Promise<void>((resolve) => (drained = resolve)), putFailed]);
          } catch (error) {
            await abort();
            throw conn.toBackendError(error);
          }
        },
        async commit() {
          if (state !== "open") throw new Error(`upload is ${state}`);
          if (conn.closed) {
            await abort();
            throw new BackendClosedError();
          }
          state = "committing";
          controller.close();
          let info: ObjectInfo;
          try {
            info = await put;
          } catch (error) {
            state = "aborted";
            openWriters.delete(abort);
            throw conn.toBackendError(error);
          }
          const file = toFile(info);
          if (file.sha256 !== hash.digest("hex") || file.size !== size) {
            state = "committed";
            await abort();
            throw new BackendUnavailableError("stored file does not match the uploaded bytes");
          }
          state = "committed";
          openWriters.delete(abort);
          return file;
        },
        abort,
      };
    },

    async stat(id) {
      return toFile(await lookup(id));
    },

    async *read(id, offset, signal) {
      const info = await lookup(id);
      const file = toFile(info);
      checkReadOffset(file, offset);
      if (offset === file.size) return;
      const chunkSize = info.options?.max_chunk_size ?? 128 * 1024;
      const filter = `$O.${bucket}.C.${info.nuid}`;
      const firstChunk = Math.floor(offset / chunkSize);
      let skip = offset - firstChunk * chunkSize;
      let cursor: Awaited<ReturnType<typeof openCursor>> | undefined;
      try {
        const startSeq = firstChunk === 0 ? 1 : await chunkSeq(filter, firstChunk);
        cursor = await openCursor(conn, {
          stream: `OBJ_${bucket}`,
          filter,
          startSeq,
          timeoutMs: options.requestTimeoutMs,
        });
        let remaining = info.chunks - firstChunk;
        while (remaining > 0) {
          signal?.throwIfAborted();
          conn.check();
          const batch: JsMsg[] = await cursor.next(Math.min(downloadBatch, remaining));
          if (batch.length === 0) throw new BackendUnavailableError("object chunks are missing");
          remaining -= batch.length;
          for (const m of batch) {
            let data = m.data;
            if (skip > 0) {
              data = data.subarray(skip);
              skip = 0;
            }
            for (let i = 0; i < data.length; i += blobReadChunkBytes) {
              signal?.throwIfAborted();
              yield data.subarray(i, i + blobReadChunkBytes);
            }
          }
        }
      } catch (error) {
        throw conn.toBackendError(error);
      } finally {
        cursor?.close();
      }
    },

    async abortAll() {
      await Promise.all([...openWriters].map((abort) => abort()));
    },
  };
}
