/**
 * Per-room resume position of a subscription: where to ask the server to
 * start on the next (re)connect, and which offsets were already delivered.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import {
  type Message,
  type RoomPosition,
  RoomPositionSchema,
  type RoomState,
} from "../gen/switchboard/chat/v1/chat_pb.js";

/** Where a subscription to a room starts the first time. */
export type StartPosition =
  /** Only messages stored after the subscription started. */
  | { readonly kind: "latest" }
  /** The whole retained history, then live. */
  | { readonly kind: "beginning" }
  /** Messages after `offset` (of `epoch`, when given), then live. */
  | { readonly kind: "after"; readonly offset: bigint; readonly epoch?: string }
  /** The last `count` messages, then live. */
  | { readonly kind: "last"; readonly count: number };

/** Mutable resume state of one room. */
export interface RoomCursor {
  readonly room: string;
  /** The position asked for before anything was delivered. */
  start: StartPosition;
  /** Epoch of the room as last seen; undefined before the first RoomState. */
  epoch: string | undefined;
  /** Offset of the newest delivered message (or the point known to be caught up to). */
  lastOffset: bigint | undefined;
}

/**
 * Creates the cursor of a room that has not been subscribed yet.
 *
 * @example
 * const cursor = createRoomCursor("general", { kind: "last", count: 10 });
 */
export function createRoomCursor(room: string, start: StartPosition): RoomCursor {
  return {
    room,
    start,
    epoch: start.kind === "after" ? start.epoch : undefined,
    lastOffset: undefined,
  };
}

/**
 * The RoomPosition to send on (re)connect: after the last delivered offset of
 * the known epoch once anything was delivered, else the original start.
 */
export function cursorPosition(cursor: RoomCursor): RoomPosition {
  const epoch = cursor.epoch ?? "";
  if (cursor.lastOffset !== undefined) {
    return create(RoomPositionSchema, {
      room: cursor.room,
      start: { case: "afterOffset", value: cursor.lastOffset },
      epoch,
    });
  }
  const start = cursor.start;
  switch (start.kind) {
    case "latest":
      return create(RoomPositionSchema, { room: cursor.room, epoch });
    case "beginning":
      return create(RoomPositionSchema, {
        room: cursor.room,
        start: { case: "afterOffset", value: 0n },
        epoch,
      });
    case "after":
      return create(RoomPositionSchema, {
        room: cursor.room,
        start: { case: "afterOffset", value: start.offset },
        epoch,
      });
    case "last":
      return create(RoomPositionSchema, {
        room: cursor.room,
        start: { case: "last", value: start.count },
        epoch,
      });
  }
}

/**
 * Records a RoomState. After it, the cursor resumes without gap: a "latest"
 * start continues after the announced head; an unrecovered or new epoch
 * continues after 0 of that epoch (the server replays it whole).
 */
export function applyRoomState(cursor: RoomCursor, state: RoomState): void {
  const epochChanged = cursor.epoch !== undefined && cursor.epoch !== state.epoch;
  cursor.epoch = state.epoch;
  if (epochChanged || !state.recovered) {
    // Offsets of the old epoch mean nothing now; the server replays the
    // retained history of the current one.
    cursor.lastOffset = 0n;
    cursor.start = { kind: "beginning" };
    return;
  }
  if (cursor.lastOffset !== undefined) return;
  const start = cursor.start;
  switch (start.kind) {
    case "latest":
      cursor.lastOffset = state.headOffset;
      break;
    case "beginning":
      cursor.lastOffset = 0n;
      break;
    case "after":
      cursor.lastOffset = start.offset;
      break;
    case "last":
      if (state.headOffset === 0n || start.count === 0) cursor.lastOffset = state.headOffset;
      break;
  }
}

/**
 * Records a delivered message. Returns false for a duplicate (an offset at or
 * below the last delivered one in the same epoch), which the caller drops.
 */
export function acceptMessage(cursor: RoomCursor, message: Message): boolean {
  if (cursor.epoch !== undefined && message.epoch !== cursor.epoch) {
    cursor.lastOffset = undefined;
  }
  if (cursor.lastOffset !== undefined && message.offset <= cursor.lastOffset) return false;
  cursor.epoch = message.epoch;
  cursor.lastOffset = message.offset;
  return true;
}
