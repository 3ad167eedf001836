/**
 * History (unary): one page of a room's stored messages.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  Direction,
  type HistoryRequest,
  type HistoryResponse,
  HistoryResponseSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { authorizeSubscribe, requireUser } from "./authorize.js";
import { callAbortState } from "./call-end.js";
import { toMessage } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { toConnectError } from "./errors.js";
import { invalidArgument, validateHistoryLimit, validateRoom } from "./validate.js";

/**
 * Creates the History handler. Direction UNSPECIFIED means BACKWARD; an
 * unknown direction value is InvalidArgument (`direction`); limit 0 means 100
 * and more than 1000 is InvalidArgument (`limit`). Needs subscribe permission.
 *
 * @example
 * const history = createHistoryHandler(deps);
 */
export function createHistoryHandler(deps: ServiceDeps) {
  return async (req: HistoryRequest, ctx: HandlerContext): Promise<HistoryResponse> => {
    const abort = callAbortState(ctx);
    try {
      const user = requireUser(ctx);
      const room = validateRoom(req.room, "room");
      const limit = validateHistoryLimit(req.limit, "limit");
      const direction = toDirection(req.direction);
      authorizeSubscribe(user, room);
      const page = await deps.backend.log.read(
        room,
        { direction, offset: req.offset, limit },
        abort,
      );
      return create(HistoryResponseSchema, {
        messages: page.messages.map(toMessage),
        epoch: page.info.epoch,
        headOffset: page.info.headOffset,
        hasMore: page.hasMore,
      });
    } catch (err) {
      throw toConnectError(err, abort);
    }
  };
}

function toDirection(direction: Direction): "forward" | "backward" {
  switch (direction) {
    case Direction.FORWARD:
      return "forward";
    case Direction.BACKWARD:
    case Direction.UNSPECIFIED:
      return "backward";
    default:
      throw invalidArgument("direction", `unknown direction ${direction as number}`);
  }
}
