/**
 * Send (unary): store one message in a room. The same logic serves the
 * `send` frames of Chat.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { NotFoundError } from "../backend/errors.js";
import type { AbortState, AppendResult, StoredFile } from "../backend/types.js";
import {
  type SendRequest,
  type SendResponse,
  SendResponseSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { authorizePublish, requireUser, userRef } from "./authorize.js";
import { callAbortState } from "./call-end.js";
import type { AuthenticatedUser } from "./context-values.js";
import { toMessage } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { toConnectError } from "./errors.js";
import { checkRate } from "./rate-limit.js";
import { type CallTelemetry, callTelemetry, noCallTelemetry } from "./telemetry.js";
import {
  invalidArgument,
  validateAttachmentCount,
  validateClientMessageId,
  validateRoom,
  validateText,
} from "./validate.js";

/**
 * Validates, authorizes and stores one message. `path` prefixes field names
 * in error messages (`""` for Send, `"send."` for a Chat frame).
 *
 * Checks, in order: room name, text, attachment count, text or attachments
 * present, client_message_id (InvalidArgument); publish permission (PermissionDenied);
 * the user's send rate (ResourceExhausted with `retry-after-ms`, see
 * rate-limit.ts); attachments exist (InvalidArgument naming `attachment_file_ids[i]`).
 *
 * The call's `telemetry` gives the `traceparent` stored with the message (so
 * its deliveries link to this call's span) and counts the stored message.
 *
 * @example
 * const { message, duplicate } = await sendMessage(deps, user, req, callAbortState(ctx), "", callTelemetry(ctx));
 */
export async function sendMessage(
  deps: ServiceDeps,
  user: AuthenticatedUser,
  req: SendRequest,
  signal: AbortState,
  path = "",
  telemetry: CallTelemetry = noCallTelemetry,
): Promise<AppendResult> {
  const room = validateRoom(req.room, `${path}room`);
  validateText(req.text, `${path}text`, deps.limits.maxTextBytes);
  validateAttachmentCount(
    req.attachmentFileIds,
    `${path}attachment_file_ids`,
    deps.limits.maxAttachments,
  );
  if (req.text === "" && req.attachmentFileIds.length === 0) {
    throw invalidArgument(`${path}text`, "must not be empty when there are no attachments");
  }
  validateClientMessageId(req.clientMessageId, `${path}client_message_id`);
  authorizePublish(user, room);
  if (deps.sendLimiter) {
    const { sendRatePerSec: ratePerSec, sendBurst: burst } = deps.limits;
    checkRate(deps.sendLimiter, user.id, { ratePerSec, burst });
  }
  const attachments: StoredFile[] = [];
  for (const [i, id] of req.attachmentFileIds.entries()) {
    try {
      attachments.push(await deps.backend.blobs.stat(id));
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw invalidArgument(`${path}attachment_file_ids[${i}]`, `unknown file "${id}"`);
      }
      throw err;
    }
  }
  const traceparent = telemetry.traceparent;
  const result = await deps.backend.log.append(
    {
      room,
      sender: userRef(user),
      text: req.text,
      attachments,
      clientMessageId: req.clientMessageId,
      ...(traceparent !== undefined ? { traceparent } : {}),
    },
    signal,
  );
  if (!result.duplicate) telemetry.published(result.message);
  return result;
}

/**
 * Creates the Send handler.
 *
 * @example
 * router.rpc(ChatService.method.send, createSendHandler(deps));
 */
export function createSendHandler(deps: ServiceDeps) {
  return async (req: SendRequest, ctx: HandlerContext): Promise<SendResponse> => {
    const abort = callAbortState(ctx);
    try {
      const user = requireUser(ctx);
      const result = await sendMessage(deps, user, req, abort, "", callTelemetry(ctx));
      return toSendResponse(result);
    } catch (err) {
      throw toConnectError(err, abort);
    }
  };
}

function toSendResponse(result: AppendResult): SendResponse {
  return create(SendResponseSchema, {
    message: toMessage(result.message),
    duplicate: result.duplicate,
  });
}
