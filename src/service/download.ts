/**
 * Download (server streaming): the file's description, then its bytes from
 * an optional offset (resume), in chunks of `limits.downloadChunkBytes`.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  type DownloadRequest,
  type DownloadResponse,
  DownloadResponseSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { authorizeSubscribe, requireUser } from "./authorize.js";
import { toFileInfo } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { throwIfAborted, toConnectError } from "./errors.js";
import { callTelemetry } from "./telemetry.js";
import { validateFileId } from "./validate.js";

/**
 * Creates the Download handler.
 *
 * Errors: InvalidArgument (`file_id`); NotFound for an unknown id;
 * PermissionDenied when the file belongs to a room the user may not
 * subscribe to (files without a room are readable by any authenticated user
 * who knows the id); OutOfRange when `offset` is past the end (an offset equal
 * to the size yields the description and no chunk).
 *
 * @example
 * const download = createDownloadHandler(deps);
 */
export function createDownloadHandler(deps: ServiceDeps) {
  return async function* download(
    req: DownloadRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<DownloadResponse> {
    try {
      const user = requireUser(ctx);
      const id = validateFileId(req.fileId, "file_id");
      const file = await deps.backend.blobs.stat(id);
      if (file.room !== "") authorizeSubscribe(user, file.room);
      if (req.offset > BigInt(file.size)) {
        throw new ConnectError(
          `offset: ${req.offset} is past the end of the file (${file.size} bytes)`,
          Code.OutOfRange,
        );
      }
      yield create(DownloadResponseSchema, { payload: { case: "file", value: toFileInfo(file) } });
      if (req.offset === BigInt(file.size)) return;
      const source = deps.backend.blobs.read(id, Number(req.offset), ctx.signal);
      for await (const chunk of rechunk(source, deps.limits.downloadChunkBytes)) {
        throwIfAborted(ctx.signal);
        yield create(DownloadResponseSchema, { payload: { case: "chunk", value: chunk } });
        callTelemetry(ctx).transferred("download", chunk.byteLength);
      }
    } catch (err) {
      throw toConnectError(err, ctx.signal);
    }
  };
}

/**
 * Re-slices a byte stream into chunks of exactly `size` bytes (the last one
 * may be shorter), copying only when pieces must be joined.
 *
 * @example
 * for await (const chunk of rechunk(source, 65536)) …
 */
export async function* rechunk(
  source: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let buffered = 0;
  for await (let piece of source) {
    while (piece.byteLength > 0) {
      if (buffered === 0 && piece.byteLength >= size) {
        yield piece.subarray(0, size);
        piece = piece.subarray(size);
        continue;
      }
      const take = Math.min(size - buffered, piece.byteLength);
      parts.push(piece.subarray(0, take));
      buffered += take;
      piece = piece.subarray(take);
      if (buffered === size) {
        yield concat(parts, buffered);
        parts = [];
        buffered = 0;
      }
    }
  }
  if (buffered > 0) yield concat(parts, buffered);
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0]) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
