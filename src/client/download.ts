/**
 * Download with resume: after a transient failure the download continues from
 * the bytes already received (DownloadRequest.offset).
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { FileInfo } from "../gen/switchboard/chat/v1/chat_pb.js";
import { type BackoffOptions, createBackoff, sleep } from "./backoff.js";
import type { ChatClient } from "./chat-client.js";
import { isTerminalError } from "./errors.js";

/** Receives the file's bytes in order; may return a promise for backpressure. */
export type DownloadSink = (chunk: Uint8Array) => void | Promise<void>;

/** Options of {@link downloadWithResume}. */
export interface DownloadOptions {
  /** First byte to fetch (bytes before it are assumed already held). Default 0. */
  readonly offset?: number | bigint;
  /** Called with the file description, before any byte reaches the sink. */
  readonly onInfo?: (file: FileInfo) => void | Promise<void>;
  /** Called after each chunk with the bytes held so far (offset included) and the size. */
  readonly onProgress?: (receivedBytes: number, totalBytes: number) => void;
  /** Called before each resume. */
  readonly onRetry?: (info: { attempt: number; offset: number; error: ConnectError }) => void;
  /** Consecutive failed attempts before giving up. Default 8. */
  readonly maxAttempts?: number;
  /** Delays between attempts. */
  readonly backoff?: BackoffOptions;
  /** Cancels the download. */
  readonly signal?: AbortSignal;
}

/**
 * Downloads a file into `sink`, resuming from the received byte count after
 * any failure that is not terminal (auth, permission, not found, …). Fails if
 * the file changes between attempts or fewer bytes than its size arrive.
 * Returns the file description.
 *
 * @example
 * const chunks: Uint8Array[] = [];
 * const info = await downloadWithResume(client, fileId, (c) => { chunks.push(c); });
 */
export async function downloadWithResume(
  client: ChatClient,
  fileId: string,
  sink: DownloadSink,
  options: DownloadOptions = {},
): Promise<FileInfo> {
  let position = BigInt(options.offset ?? 0);
  let info: FileInfo | undefined;
  const backoff = createBackoff(options.backoff);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 8);
  let failures = 0;
  for (;;) {
    try {
      const stream = client.download({ fileId, offset: position }, { signal: options.signal });
      for await (const res of stream) {
        const payload = res.payload;
        if (payload.case === "file") {
          if (info === undefined) {
            info = payload.value;
            await options.onInfo?.(info);
          } else if (info.sha256 !== payload.value.sha256 || info.size !== payload.value.size) {
            throw new ConnectError(
              `file ${fileId} changed during download`,
              Code.FailedPrecondition,
            );
          }
        } else if (payload.case === "chunk") {
          if (info === undefined) {
            throw new ConnectError("download: chunk before file description", Code.Internal);
          }
          await sink(payload.value);
          position += BigInt(payload.value.length);
          failures = 0;
          backoff.reset();
          options.onProgress?.(Number(position), Number(info.size));
        }
      }
      if (info === undefined) {
        throw new ConnectError("download: stream without file description", Code.Internal);
      }
      if (position !== info.size) {
        throw new ConnectError(
          `download ended at byte ${position} of ${info.size}`,
          Code.Unavailable,
        );
      }
      return info;
    } catch (err) {
      if (options.signal?.aborted || isTerminalError(err)) throw err;
      const error = ConnectError.from(err);
      failures++;
      if (failures >= maxAttempts) throw error;
      options.onRetry?.({ attempt: failures, offset: Number(position), error });
      await sleep(backoff.next(), options.signal);
    }
  }
}

/**
 * Fetches a file's description without its content (opens a download and
 * cancels it after the first frame).
 *
 * @example
 * const info = await fetchFileInfo(client, fileId);
 */
export async function fetchFileInfo(
  client: ChatClient,
  fileId: string,
  options: { signal?: AbortSignal } = {},
): Promise<FileInfo> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const res of client.download({ fileId }, { signal: controller.signal })) {
      if (res.payload.case === "file") return res.payload.value;
      break;
    }
    throw new ConnectError("download: stream without file description", Code.Internal);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    controller.abort();
  }
}
