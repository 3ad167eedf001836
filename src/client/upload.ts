/**
 * Upload: streams a file as metadata followed by chunks of at most 256 KiB.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { FileInfo, UploadRequest } from "../gen/switchboard/chat/v1/chat_pb.js";
import { UploadRequestSchema } from "../gen/switchboard/chat/v1/chat_pb.js";
import { type BackoffOptions, createBackoff, sleep } from "./backoff.js";
import type { ChatClient } from "./chat-client.js";
import { isTransientError } from "./errors.js";

/** Largest chunk the SDK sends (the server accepts up to 1 MiB by default). */
export const uploadChunkBytes = 256 * 1024;

/** Description of the file being uploaded. */
export interface UploadMeta {
  /** File name without directory part. */
  readonly name: string;
  /** MIME type; the server defaults to application/octet-stream. */
  readonly contentType?: string;
  /** Declared size; when given the server rejects any other byte count. */
  readonly size?: number | bigint;
  /** Room the file is meant for. */
  readonly room?: string;
}

/** Options of {@link uploadStream}. */
export interface UploadOptions {
  /** Called as bytes are handed to the transport. */
  readonly onProgress?: (sentBytes: number, totalBytes: number | undefined) => void;
  /** Cancels the upload. */
  readonly signal?: AbortSignal;
  /**
   * Attempts in total for transient failures, only when `source` is a function
   * that can produce the bytes again. Default 3.
   */
  readonly maxAttempts?: number;
  /** Delays between attempts. */
  readonly backoff?: BackoffOptions;
}

/** Bytes to upload: an iterable, or a function producing a fresh one per attempt (retryable). */
export type UploadSource =
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | (() => AsyncIterable<Uint8Array> | Iterable<Uint8Array>);

/**
 * Re-chunks a byte stream into chunks of exactly `size` bytes (the last may be
 * shorter), never yielding empty chunks.
 *
 * @example
 * for await (const c of rechunk(fileStream, 65536)) send(c);
 */
export async function* rechunk(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let pending = new Uint8Array(size);
  let used = 0;
  for await (const input of source) {
    let pos = 0;
    while (pos < input.length) {
      const n = Math.min(size - used, input.length - pos);
      pending.set(input.subarray(pos, pos + n), used);
      used += n;
      pos += n;
      if (used === size) {
        yield pending;
        pending = new Uint8Array(size);
        used = 0;
      }
    }
  }
  if (used > 0) yield pending.subarray(0, used);
}

async function* uploadRequests(
  meta: UploadMeta,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  onChunk: (bytes: number) => void,
): AsyncGenerator<UploadRequest> {
  yield create(UploadRequestSchema, {
    payload: {
      case: "metadata",
      value: {
        name: meta.name,
        contentType: meta.contentType ?? "",
        size: meta.size === undefined ? undefined : BigInt(meta.size),
        room: meta.room ?? "",
      },
    },
  });
  for await (const chunk of rechunk(source, uploadChunkBytes)) {
    yield create(UploadRequestSchema, { payload: { case: "chunk", value: chunk } });
    onChunk(chunk.length);
  }
}

/**
 * Uploads a file and returns its description (id, size, sha256). When
 * `source` is a function, transient failures restart the upload from the
 * beginning with a fresh source.
 *
 * @example
 * const file = await uploadStream(client, { name: "a.txt" }, [new TextEncoder().encode("hi")]);
 */
export async function uploadStream(
  client: ChatClient,
  meta: UploadMeta,
  source: UploadSource,
  options: UploadOptions = {},
): Promise<FileInfo> {
  const retryable = typeof source === "function";
  const maxAttempts = retryable ? Math.max(1, options.maxAttempts ?? 3) : 1;
  const backoff = createBackoff(options.backoff);
  const total = meta.size === undefined ? undefined : Number(meta.size);
  for (let attempt = 1; ; attempt++) {
    let sent = 0;
    options.onProgress?.(0, total);
    const bytes = typeof source === "function" ? source() : source;
    try {
      const res = await client.upload(
        uploadRequests(meta, bytes, (n) => {
          sent += n;
          options.onProgress?.(sent, total);
        }),
        { signal: options.signal },
      );
      if (!res.file) throw new ConnectError("upload: response without file", Code.Internal);
      return res.file;
    } catch (err) {
      if (options.signal?.aborted || attempt >= maxAttempts || !isTransientError(err)) throw err;
      await sleep(backoff.next(), options.signal);
    }
  }
}
