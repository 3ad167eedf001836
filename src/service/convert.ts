/**
 * Conversions from backend records to protobuf messages. Offsets stay
 * `bigint` (uint64); times in milliseconds become `google.protobuf.Timestamp`.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type {
  PresenceChange,
  RoomInfo,
  StoredFile,
  StoredMessage,
  UserRef,
} from "../backend/types.js";
import {
  type FileInfo,
  FileInfoSchema,
  type Message,
  MessageSchema,
  type PresenceEvent,
  PresenceEventSchema,
  PresenceKind,
  type RoomState,
  RoomStateSchema,
  type User,
  UserSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";

/**
 * UserRef → User.
 *
 * @example
 * toUser({ id: "ann", name: "Ann" }).displayName; // "Ann"
 */
export function toUser(user: UserRef): User {
  return create(UserSchema, { id: user.id, displayName: user.name });
}

/**
 * StoredFile → FileInfo.
 *
 * @example
 * toFileInfo(await backend.blobs.stat(id));
 */
export function toFileInfo(file: StoredFile): FileInfo {
  return create(FileInfoSchema, {
    id: file.id,
    name: file.name,
    contentType: file.contentType,
    size: BigInt(file.size),
    sha256: file.sha256,
    room: file.room,
    uploader: toUser(file.uploader),
    createTime: timestampFromMs(file.createdAt),
  });
}

/**
 * StoredMessage → Message.
 *
 * @example
 * toMessage(result.message);
 */
export function toMessage(message: StoredMessage): Message {
  return create(MessageSchema, {
    id: message.id,
    room: message.room,
    offset: message.offset,
    epoch: message.epoch,
    sender: toUser(message.sender),
    text: message.text,
    attachments: message.attachments.map(toFileInfo),
    time: timestampFromMs(message.time),
    clientMessageId: message.clientMessageId,
  });
}

/** The last message converted by {@link sharedMessage}, with its Message and size. */
let sharedStored: StoredMessage | undefined;
let sharedConverted: Message | undefined;
let sharedBytes = 0;

/**
 * StoredMessage → Message, converted once per fan-out delivery.
 *
 * Consecutive calls with the same StoredMessage object return the same
 * Message object (a one-entry cache: the most recent StoredMessage). The
 * backends' fan-outs hand one StoredMessage object to all the local
 * subscribers of a room in one synchronous loop, so every stream that
 * receives a delivery live gets the same Message instance, which a
 * transport may therefore serialize once (caching by identity). The Message
 * must be treated as immutable. Only the most recent message is kept, so
 * nothing is retained beyond it.
 *
 * @example
 * sharedMessage(stored) === sharedMessage(stored); // true
 */
export function sharedMessage(stored: StoredMessage): Message {
  if (stored !== sharedStored || sharedConverted === undefined) {
    sharedConverted = toMessage(stored);
    sharedBytes = estimateMessageBytes(stored);
    sharedStored = stored;
  }
  return sharedConverted;
}

/**
 * {@link estimateMessageBytes} of a message, computed once per delivery
 * (shares {@link sharedMessage}'s cache entry).
 *
 * @example
 * sharedMessageBytes(stored); // ≈ 120 + text length
 */
export function sharedMessageBytes(stored: StoredMessage): number {
  if (stored !== sharedStored) sharedMessage(stored);
  return sharedBytes;
}

/**
 * RoomInfo (+ whether the requested position was honoured) → RoomState.
 *
 * @example
 * toRoomState(info, true);
 */
export function toRoomState(info: RoomInfo, recovered: boolean): RoomState {
  return create(RoomStateSchema, {
    room: info.room,
    epoch: info.epoch,
    headOffset: info.headOffset,
    recovered,
  });
}

/**
 * PresenceChange → PresenceEvent.
 *
 * @example
 * toPresenceEvent({ room: "lobby", kind: "join", user });
 */
export function toPresenceEvent(change: PresenceChange): PresenceEvent {
  return create(PresenceEventSchema, {
    room: change.room,
    kind: change.kind === "join" ? PresenceKind.JOIN : PresenceKind.LEAVE,
    user: toUser(change.user),
  });
}

/**
 * Rough size in bytes of a message on the wire, used to bound subscriber
 * queues without serializing every message twice. It errs on the high side
 * for ASCII and is within a small factor otherwise.
 *
 * @example
 * estimateMessageBytes(stored); // ≈ 120 + text length
 */
export function estimateMessageBytes(message: StoredMessage): number {
  let bytes = 64 + message.id.length + message.room.length + message.epoch.length;
  bytes += message.sender.id.length + message.sender.name.length + message.clientMessageId.length;
  bytes += message.text.length;
  for (const file of message.attachments) {
    bytes += 160 + file.name.length + file.contentType.length + file.room.length;
  }
  return bytes;
}
