/**
 * The state of one Chat stream: the rooms it joined (each a room feed, a
 * presence handle and a presence watcher) and the handling of each client
 * frame. A frame that fails becomes a ChatError event; the stream goes on.
 *
 * @module
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { AbortState, PresenceChange, PresenceHandle } from "../backend/types.js";
import {
  type ChatRequest,
  type ChatResponse,
  ChatResponseSchema,
  type JoinRoom,
  type LeaveRoom,
  type SendRequest,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { authorizeSubscribe, userRef } from "./authorize.js";
import type { AuthenticatedUser } from "./context-values.js";
import { toMessage, toPresenceEvent, toUser } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { codeName, toConnectError } from "./errors.js";
import type { EventQueue } from "./event-queue.js";
import { openRoomFeed, type RoomFeed } from "./room-feed.js";
import { sendMessage } from "./send.js";
import { controlEventBytes, createMessageDeliveries, queueSink } from "./stream-events.js";
import { type CallTelemetry, noCallTelemetry } from "./telemetry.js";
import { invalidArgument, isWellFormed, validateRoom, validateRoomPosition } from "./validate.js";

/** One Chat stream's rooms and frame handling. */
export interface ChatSession {
  /** Handles one client frame; never throws (failures become ChatError events). */
  handle(req: ChatRequest): Promise<void>;
  /** Releases every feed, presence handle and watcher. Idempotent. */
  close(): void;
}

interface JoinedRoom {
  readonly feed: RoomFeed;
  readonly presence: PresenceHandle;
  readonly watcher: { close(): void };
}

/** Options of {@link createChatSession}. */
export interface ChatSessionOptions {
  readonly deps: ServiceDeps;
  readonly user: AuthenticatedUser;
  readonly queue: EventQueue<ChatResponse>;
  /** The Chat call's abort state. */
  readonly abort: AbortState;
  /** The Chat call's telemetry (message counts, delivery spans); none by default. */
  readonly telemetry?: CallTelemetry;
}

/** Chat's message events: one per delivery, shared by every Chat stream (see `createMessageDeliveries`). */
const chatDeliveries = createMessageDeliveries((message) =>
  create(ChatResponseSchema, { event: { case: "message", value: message } }),
);

/**
 * Creates the session of one Chat stream.
 *
 * Per-frame errors (ChatError.code): invalid_argument (bad room, text, …,
 * missing action), permission_denied, already_exists (join of a joined
 * room), failed_precondition (leave of a room not joined),
 * resource_exhausted (more than `maxRoomsPerSubscription` rooms), and the
 * backend codes of `toConnectError`.
 *
 * Presence: after a successful join the stream receives the room's presence
 * changes (joins and leaves of every user, the caller's own included when
 * another of their streams changes it). The caller's own join is reflected in
 * RoomJoined.members rather than as an event.
 *
 * Every `message` event of one live delivery is the same ChatResponse object
 * on every Chat stream, wrapping the same Message (see `sharedMessage`).
 *
 * @example
 * const session = createChatSession({ deps, user, queue, abort: callAbortState(ctx) });
 * for await (const req of requests) await session.handle(req);
 */
export function createChatSession(options: ChatSessionOptions): ChatSession {
  const { deps, user, queue, abort } = options;
  const telemetry = options.telemetry ?? noCallTelemetry;
  const rooms = new Map<string, JoinedRoom | "joining">();
  let closed = false;

  const emit = (event: MessageInitShape<typeof ChatResponseSchema>["event"]) =>
    queue.push(create(ChatResponseSchema, { event }), { bytes: controlEventBytes });

  const emitError = (requestId: string, err: unknown, room: string) => {
    const error = toConnectError(err, abort);
    emit({
      case: "error",
      value: { requestId, code: codeName(error.code), message: error.rawMessage, room },
    });
  };

  const release = (entry: JoinedRoom) => {
    entry.feed.close();
    entry.watcher.close();
    entry.presence.leave().catch(() => undefined);
  };

  async function join(requestId: string, frame: JoinRoom): Promise<void> {
    const position = frame.position;
    if (position === undefined) throw invalidArgument("join.position", "is required");
    validateRoomPosition(position, "join.position");
    const room = position.room;
    authorizeSubscribe(user, room);
    if (rooms.has(room)) {
      throw new ConnectError(`join.position.room: already joined "${room}"`, Code.AlreadyExists);
    }
    if (rooms.size >= deps.limits.maxRoomsPerSubscription) {
      throw new ConnectError(
        `join.position.room: at most ${deps.limits.maxRoomsPerSubscription} rooms per stream`,
        Code.ResourceExhausted,
      );
    }
    rooms.set(room, "joining");
    const cleanups: (() => void)[] = [];
    try {
      const sink = queueSink(queue, chatDeliveries, telemetry);
      const feed = await openRoomFeed({ deps, position, sink, abort });
      cleanups.push(() => feed.close());
      const presence = await deps.backend.presence.join(room, userRef(user));
      cleanups.push(() => void presence.leave().catch(() => undefined));
      let early: PresenceChange[] | undefined = [];
      const onPresence = (change: PresenceChange) => {
        if (early) early.push(change);
        else emit({ case: "presence", value: toPresenceEvent(change) });
      };
      const watcher = await deps.backend.presence.watch(room, onPresence);
      cleanups.push(() => watcher.close());
      const members = await deps.backend.presence.list(room);
      if (closed) throw new ConnectError("stream closed", Code.Canceled);
      const entry: JoinedRoom = { feed, presence, watcher };
      rooms.set(room, entry);
      emit({
        case: "joined",
        value: { requestId, state: feed.state, members: members.map(toUser) },
      });
      const buffered = early;
      early = undefined;
      for (const change of buffered) onPresence(change);
      feed.start().catch((err: unknown) => {
        if (rooms.get(room) !== entry) return;
        rooms.delete(room);
        release(entry);
        if (!closed && !abort.aborted) emitError("", err, room);
      });
    } catch (err) {
      if (rooms.get(room) === "joining") rooms.delete(room);
      for (const cleanup of cleanups) cleanup();
      throw err;
    }
  }

  async function leave(requestId: string, frame: LeaveRoom): Promise<void> {
    const room = validateRoom(frame.room, "leave.room");
    const entry = rooms.get(room);
    if (entry === undefined || entry === "joining") {
      throw new ConnectError(`leave.room: not joined to "${room}"`, Code.FailedPrecondition);
    }
    rooms.delete(room);
    entry.feed.close();
    entry.watcher.close();
    await entry.presence.leave();
    emit({ case: "left", value: { requestId, room } });
  }

  async function send(requestId: string, frame: SendRequest): Promise<void> {
    const result = await sendMessage(deps, user, frame, abort, "send.", telemetry);
    emit({
      case: "ack",
      value: {
        requestId,
        clientMessageId: frame.clientMessageId,
        message: toMessage(result.message),
        duplicate: result.duplicate,
      },
    });
  }

  return {
    async handle(req) {
      const action = req.action;
      if (req.requestId.length > 128 || !isWellFormed(req.requestId)) {
        // Not echoed back: a mangled id would only confuse the client.
        const problem = "must be at most 128 characters of valid UTF-8";
        if (!closed && !abort.aborted) emitError("", invalidArgument("request_id", problem), "");
        return;
      }
      try {
        switch (action.case) {
          case "join":
            return await join(req.requestId, action.value);
          case "leave":
            return await leave(req.requestId, action.value);
          case "send":
            return await send(req.requestId, action.value);
          default:
            throw invalidArgument("action", "one of join, leave or send is required");
        }
      } catch (err) {
        if (closed || abort.aborted) return;
        emitError(req.requestId, err, roomOf(req));
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const entry of rooms.values()) {
        if (entry !== "joining") release(entry);
      }
      rooms.clear();
    },
  };
}

function roomOf(req: ChatRequest): string {
  switch (req.action.case) {
    case "join":
      return req.action.value.position?.room ?? "";
    case "leave":
      return req.action.value.room;
    case "send":
      return req.action.value.room;
    default:
      return "";
  }
}
