/**
 * Upload (client streaming): metadata first, then chunks, streamed into the
 * blob store. Whatever goes wrong (bad input, limits, cancel, backend error),
 * the unfinished upload is aborted so no file and no temp file remain.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { BlobWriter } from "../backend/types.js";
import {
  type UploadMetadata,
  type UploadRequest,
  type UploadResponse,
  UploadResponseSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { authorizePublish, requireUser, userRef } from "./authorize.js";
import type { AuthenticatedUser } from "./context-values.js";
import { toFileInfo } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { throwIfAborted, toConnectError } from "./errors.js";
import { callTelemetry } from "./telemetry.js";
import {
  invalidArgument,
  validateContentType,
  validateFileName,
  validateRoom,
} from "./validate.js";

/**
 * Creates the Upload handler.
 *
 * Errors: InvalidArgument when the first message is not `metadata`
 * (`metadata`), a later one is (`metadata`), a metadata field is bad
 * (`metadata.name`, `metadata.content_type`, `metadata.room`), the declared
 * size exceeds the file limit (`metadata.size`), a chunk exceeds the chunk
 * limit (`chunk`), or the received size differs from the declared one
 * (`metadata.size`); PermissionDenied when a room is given and the user may
 * not publish there; ResourceExhausted when the bytes received exceed the file
 * limit (no size declared).
 *
 * @example
 * const upload = createUploadHandler(deps);
 */
export function createUploadHandler(deps: ServiceDeps) {
  return async (
    requests: AsyncIterable<UploadRequest>,
    ctx: HandlerContext,
  ): Promise<UploadResponse> => {
    let writer: BlobWriter | undefined;
    let committed = false; // true only once commit() resolved
    // A cancel may leave us waiting on a request that never comes: discard at once.
    const discard = () => {
      if (writer && !committed) writer.abort().catch(() => undefined);
    };
    ctx.signal.addEventListener("abort", discard, { once: true });
    try {
      const user = requireUser(ctx);
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.payload.case !== "metadata") {
        throw invalidArgument("metadata", "the first message of an upload must carry metadata");
      }
      const meta = first.value.payload.value;
      const declared = checkMetadata(deps, user, meta);
      writer = await deps.backend.blobs.create({
        name: meta.name,
        contentType: validateContentType(meta.contentType, "metadata.content_type"),
        room: meta.room,
        uploader: userRef(user),
      });
      throwIfAborted(ctx.signal);
      let received = 0;
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        throwIfAborted(ctx.signal);
        const chunk = checkChunk(deps, next.value, received, declared);
        received += chunk.byteLength;
        callTelemetry(ctx).transferred("upload", chunk.byteLength);
        if (chunk.byteLength > 0) await writer.write(chunk);
      }
      throwIfAborted(ctx.signal);
      if (declared !== undefined && received !== declared) {
        throw invalidArgument(
          "metadata.size",
          `declared ${declared} bytes but received ${received}`,
        );
      }
      const file = await writer.commit();
      committed = true;
      return create(UploadResponseSchema, { file: toFileInfo(file) });
    } catch (err) {
      throw toConnectError(err, ctx.signal);
    } finally {
      ctx.signal.removeEventListener("abort", discard);
      // Any failure, cancel or failed commit: discard (abort is idempotent).
      if (writer && !committed) await writer.abort().catch(() => undefined);
    }
  };
}

/** Validates the metadata and the permission; returns the declared size, if any. */
function checkMetadata(
  deps: ServiceDeps,
  user: AuthenticatedUser,
  meta: UploadMetadata,
): number | undefined {
  validateFileName(meta.name, "metadata.name");
  validateContentType(meta.contentType, "metadata.content_type");
  if (meta.room !== "") validateRoom(meta.room, "metadata.room");
  let declared: number | undefined;
  if (meta.size !== undefined) {
    if (meta.size > BigInt(deps.limits.maxFileBytes)) {
      throw invalidArgument(
        "metadata.size",
        `${meta.size} bytes exceeds the maximum file size of ${deps.limits.maxFileBytes} bytes`,
      );
    }
    declared = Number(meta.size);
  }
  if (meta.room !== "") authorizePublish(user, meta.room);
  return declared;
}

/** Checks one non-first message; returns its bytes. */
function checkChunk(
  deps: ServiceDeps,
  req: UploadRequest,
  received: number,
  declared: number | undefined,
): Uint8Array {
  if (req.payload.case === "metadata") {
    throw invalidArgument("metadata", "only the first message of an upload may carry metadata");
  }
  if (req.payload.case !== "chunk") {
    throw invalidArgument("payload", "every message after the metadata must carry a chunk");
  }
  const chunk = req.payload.value;
  const { maxChunkBytes, maxFileBytes } = deps.limits;
  if (chunk.byteLength > maxChunkBytes) {
    throw invalidArgument(
      "chunk",
      `${chunk.byteLength} bytes exceeds the maximum chunk size of ${maxChunkBytes} bytes`,
    );
  }
  const total = received + chunk.byteLength;
  if (declared !== undefined && total > declared) {
    throw invalidArgument("metadata.size", `declared ${declared} bytes but received more`);
  }
  if (total > maxFileBytes) {
    throw new ConnectError(
      `file exceeds the maximum file size of ${maxFileBytes} bytes`,
      Code.ResourceExhausted,
    );
  }
  return chunk;
}
