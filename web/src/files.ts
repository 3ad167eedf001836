/**
 * Files in the browser: upload a picked or dropped File (client streaming,
 * over the tunnel) with progress, and download an attachment (server
 * streaming, over fetch, resuming after drops), verify its SHA-256 and hand
 * it to the browser's download manager.
 *
 * @module
 */
import type { SwitchboardCore } from "../../src/client/core.js";
import { ChecksumMismatchError } from "../../src/client/errors.js";
import type { FileInfo } from "../../src/gen/switchboard/chat/v1/chat_pb.js";

/** Bytes read from the File per chunk (the SDK sends at most 256 KiB per chunk). */
const readChunkBytes = 256 * 1024;

/**
 * Reads a Blob in chunks, lazily (a 1 GB file is never in memory at once).
 *
 * @example
 * for await (const chunk of blobChunks(file)) hash.update(chunk);
 */
export async function* blobChunks(blob: Blob, size = readChunkBytes): AsyncGenerator<Uint8Array> {
  for (let pos = 0; pos < blob.size; pos += size) {
    yield new Uint8Array(await blob.slice(pos, pos + size).arrayBuffer());
  }
}

/** Progress callback: bytes done and the total. */
export type Progress = (done: number, total: number) => void;

/**
 * Uploads a file for a room and returns its description (id, sha256).
 * Transient failures restart it from the first byte (up to 3 attempts).
 *
 * @example
 * const info = await uploadBlob(api.stream, file, "general", { onProgress });
 */
export function uploadBlob(
  core: SwitchboardCore,
  file: File,
  room: string,
  options: { onProgress?: Progress; signal?: AbortSignal } = {},
): Promise<FileInfo> {
  return core.upload(
    { name: safeName(file.name), contentType: file.type || undefined, size: file.size, room },
    () => blobChunks(file),
    {
      signal: options.signal,
      onProgress: (sent) => options.onProgress?.(sent, file.size),
    },
  );
}

/**
 * Downloads a file into memory, resuming after transient failures, and
 * checks its SHA-256 against the server's when the page may hash
 * (secure contexts: https, localhost, 127.0.0.1).
 *
 * @throws ChecksumMismatchError when the bytes differ from the announced hash.
 */
export async function downloadBlob(
  core: SwitchboardCore,
  file: FileInfo,
  options: { onProgress?: Progress; signal?: AbortSignal } = {},
): Promise<{ blob: Blob; verified: boolean }> {
  const chunks: Uint8Array[] = [];
  const info = await core.download(
    file.id,
    (chunk) => {
      chunks.push(chunk);
    },
    { signal: options.signal, onProgress: options.onProgress },
  );
  const blob = new Blob(chunks as BlobPart[], {
    type: info.contentType || "application/octet-stream",
  });
  if (!crypto.subtle) return { blob, verified: false };
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  const actual = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  if (actual !== info.sha256) throw new ChecksumMismatchError(info.id, info.sha256, actual);
  return { blob, verified: true };
}

/** Hands a Blob to the browser as a download named `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The server wants 1-255 characters without path separators. */
function safeName(name: string): string {
  const base = name.replace(/[/\\]/g, "_").trim() || "file";
  return base.length > 255 ? base.slice(base.length - 255) : base;
}
