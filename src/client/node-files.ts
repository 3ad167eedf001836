/**
 * Node-only file helpers on top of the core: upload from a path, download to
 * a path (or any writer) with SHA-256 verification via node:crypto.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { FileInfo } from "../gen/switchboard/chat/v1/chat_pb.js";
import type { SwitchboardCore } from "./core.js";
import type { DownloadOptions } from "./download.js";
import { ChecksumMismatchError } from "./errors.js";
import { type UploadOptions, uploadChunkBytes } from "./upload.js";

const contentTypes: Readonly<Record<string, string>> = {
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".json": "application/json",
  ".html": "text/html",
  ".csv": "text/csv",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".mp4": "video/mp4",
  ".mp3": "audio/mpeg",
};

/**
 * A MIME type guessed from a file name's extension; application/octet-stream
 * when unknown.
 *
 * @example
 * guessContentType("notes.md"); // "text/markdown"
 */
export function guessContentType(path: string): string {
  return contentTypes[extname(path).toLowerCase()] ?? "application/octet-stream";
}

/** Options of {@link uploadFile}. */
export interface UploadFileOptions extends UploadOptions {
  /** Room the file is meant for. */
  readonly room?: string;
  /** MIME type; guessed from the extension when not given. */
  readonly contentType?: string;
  /** Name to store; the path's base name when not given. */
  readonly name?: string;
}

/**
 * Uploads the file at `path` (declaring its size), retrying transient
 * failures by re-reading the file.
 *
 * @example
 * const info = await uploadFile(client, "./photo.png", { room: "general" });
 */
export async function uploadFile(
  core: SwitchboardCore,
  path: string,
  options: UploadFileOptions = {},
): Promise<FileInfo> {
  const { size } = await stat(path);
  return core.upload(
    {
      name: options.name ?? basename(path),
      contentType: options.contentType ?? guessContentType(path),
      size,
      room: options.room,
    },
    () => createReadStream(path, { highWaterMark: uploadChunkBytes }),
    options,
  );
}

/** A verified download. */
export interface DownloadedFile {
  /** The file as described by the server. */
  readonly file: FileInfo;
  /** Lower-case hex SHA-256 of the received bytes (equal to `file.sha256`). */
  readonly sha256: string;
}

/**
 * Downloads a file into `write`, hashing as it goes, and throws
 * {@link ChecksumMismatchError} when the bytes do not match the announced
 * SHA-256. Resumes after transient failures.
 *
 * @example
 * await downloadVerified(client, id, (c) => new Promise((r) => process.stdout.write(c, () => r())));
 */
export async function downloadVerified(
  core: SwitchboardCore,
  fileId: string,
  write: (chunk: Uint8Array) => void | Promise<void>,
  options: Omit<DownloadOptions, "offset"> = {},
): Promise<DownloadedFile> {
  const hash = createHash("sha256");
  const file = await core.download(
    fileId,
    async (chunk) => {
      hash.update(chunk);
      await write(chunk);
    },
    options,
  );
  const sha256 = hash.digest("hex");
  if (sha256 !== file.sha256) throw new ChecksumMismatchError(fileId, file.sha256, sha256);
  return { file, sha256 };
}

/** Options of {@link downloadFile}. */
export interface DownloadFileOptions extends Omit<DownloadOptions, "offset"> {
  /**
   * Continue a partial `<path>.part` left by an interrupted run instead of
   * starting over. Default true.
   */
  readonly continuePartial?: boolean;
}

/**
 * Downloads a file to `path` through `<path>.part` (renamed on success),
 * resuming after transient failures and, by default, from a `.part` file of
 * an earlier run. Verifies the SHA-256; on mismatch removes the partial file
 * and throws {@link ChecksumMismatchError}.
 *
 * @example
 * const { sha256 } = await downloadFile(client, id, "./photo.png");
 */
export async function downloadFile(
  core: SwitchboardCore,
  fileId: string,
  path: string,
  options: DownloadFileOptions = {},
): Promise<DownloadedFile> {
  const partPath = `${path}.part`;
  const hash = createHash("sha256");
  let offset = 0;
  if (options.continuePartial ?? true) {
    try {
      for await (const chunk of createReadStream(partPath)) {
        hash.update(chunk as Buffer);
        offset += (chunk as Buffer).length;
      }
    } catch {
      offset = 0;
    }
  }
  const handle = await open(partPath, offset > 0 ? "a" : "w");
  let file: FileInfo;
  try {
    file = await core.download(
      fileId,
      async (chunk) => {
        hash.update(chunk);
        await handle.write(chunk);
      },
      { ...options, offset },
    );
  } catch (err) {
    await handle.close();
    if (offset > 0 && ConnectError.from(err).code === Code.OutOfRange) {
      // The partial file is longer than the file: it belongs to something else.
      return downloadFile(core, fileId, path, { ...options, continuePartial: false });
    }
    throw err;
  }
  await handle.close();
  const sha256 = hash.digest("hex");
  if (sha256 !== file.sha256) {
    await rm(partPath, { force: true });
    throw new ChecksumMismatchError(fileId, file.sha256, sha256);
  }
  await rename(partPath, path);
  return { file, sha256 };
}
