/**
 * In-memory {@link MessageLog}. History lives as long as the process; a new
 * process gets a new epoch, so resuming clients are told history was lost.
 *
 * @module
 */
import { BackendClosedError } from "../errors.js";
import type { AbortState, MessageLog, ReadResult, RoomInfo, StoredMessage } from "../types.js";

/** A {@link MessageLog} kept in memory. */
export interface MemoryMessageLog extends MessageLog {
  /** Drops all history; later calls reject with BackendClosedError. Idempotent. */
  close(): void;
}

/** Options of {@link createMemoryMessageLog}. */
export interface MemoryMessageLogOptions {
  /** Called synchronously right after each new message is stored, in offset order. */
  readonly publish: (message: StoredMessage) => void;
  /** Epoch of every room of this log; a random UUID by default. */
  readonly epoch?: string;
}

interface Room {
  /** messages[i].offset === i + 1: offsets here start at 1 and are contiguous. */
  readonly messages: StoredMessage[];
  /** sender id -> client message id -> first message stored with it. */
  readonly keys: Map<string, Map<string, StoredMessage>>;
}

/**
 * Creates an in-memory message log.
 *
 * Epoch choice: one random epoch per log instance, shared by all its rooms.
 * It changes exactly when history is lost (a new process or backend), and an
 * empty room's epoch is the one its first message gets, without `info()`
 * having to remember rooms it was merely asked about.
 *
 * @example
 * const log = createMemoryMessageLog({ publish: (m) => fanout.publish(m) });
 * const { message } = await log.append({ room: "lobby", sender, text: "hi", attachments: [], clientMessageId: "" });
 * message.offset; // 1n
 */
export function createMemoryMessageLog(options: MemoryMessageLogOptions): MemoryMessageLog {
  const epoch = options.epoch ?? globalThis.crypto.randomUUID();
  const rooms = new Map<string, Room>();
  let closed = false;

  function check(signal?: AbortState): void {
    if (closed) throw new BackendClosedError();
    signal?.throwIfAborted();
  }

  function infoOf(room: string): RoomInfo {
    const head = rooms.get(room)?.messages.length ?? 0;
    return { room, epoch, headOffset: BigInt(head), trimmedThrough: 0n };
  }

  return {
    async append(input, signal) {
      check(signal);
      let room = rooms.get(input.room);
      if (!room) {
        room = { messages: [], keys: new Map() };
        rooms.set(input.room, room);
      }
      const key = input.clientMessageId;
      if (key !== "") {
        const first = room.keys.get(input.sender.id)?.get(key);
        if (first) return { message: first, duplicate: true };
      }
      const message: StoredMessage = Object.freeze({
        id: globalThis.crypto.randomUUID(),
        room: input.room,
        offset: BigInt(room.messages.length + 1),
        epoch,
        sender: Object.freeze({ id: input.sender.id, name: input.sender.name }),
        text: input.text,
        attachments: Object.freeze([...input.attachments]),
        time: Date.now(),
        clientMessageId: key,
        ...(input.traceparent !== undefined ? { traceparent: input.traceparent } : {}),
      });
      room.messages.push(message);
      if (key !== "") {
        let bySender = room.keys.get(input.sender.id);
        if (!bySender) {
          bySender = new Map();
          room.keys.set(input.sender.id, bySender);
        }
        bySender.set(key, message);
      }
      options.publish(message);
      return { message, duplicate: false };
    },

    async read(roomName, query, signal): Promise<ReadResult> {
      check(signal);
      const all = rooms.get(roomName)?.messages ?? [];
      const limit = Math.max(1, Math.floor(query.limit));
      const head = BigInt(all.length);
      let start: number;
      let end: number;
      let hasMore: boolean;
      if (query.direction === "forward") {
        // offsets > anchor are indexes >= anchor
        start = Number(query.offset < 0n ? 0n : query.offset > head ? head : query.offset);
        end = Math.min(all.length, start + limit);
        hasMore = end < all.length;
      } else {
        // offsets < anchor are indexes < anchor - 1; anchor 0 means "newest"
        const anchor = query.offset === 0n || query.offset > head ? head + 1n : query.offset;
        end = Math.max(0, Number(anchor) - 1);
        start = Math.max(0, end - limit);
        hasMore = start > 0;
      }
      return { messages: all.slice(start, end), hasMore, info: infoOf(roomName) };
    },

    async info(room, signal) {
      check(signal);
      return infoOf(room);
    },

    close() {
      closed = true;
      rooms.clear();
    },
  };
}
