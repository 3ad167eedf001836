/**
 * SQLite {@link MessageLog}. An append (idempotency lookup, insert, room head
 * update) runs inside a group-committed transaction (see group-commit.ts;
 * in its own savepoint when another append of its batch failed): appends that arrive in the same event-loop turn share
 * one commit with `synchronous=FULL`, i.e. one WAL fsync. Each append resolves,
 * and its message is handed to the fan-out, only after that commit returned.
 *
 * @module
 */
import type { Database } from "better-sqlite3";
import { BackendClosedError } from "../errors.js";
import type {
  AbortState,
  AppendInput,
  AppendResult,
  MessageLog,
  ReadQuery,
  ReadResult,
  RoomInfo,
  StoredFile,
  StoredMessage,
} from "../types.js";
import { mapSqliteError } from "./database.js";
import { createGroupCommit, type GroupCommitStats } from "./group-commit.js";
import { timeOrderedId } from "./message-id.js";

/** Options of {@link createSqliteMessageLog}. */
export interface SqliteMessageLogOptions {
  /** An open, migrated database with safe (bigint) integers. */
  readonly db: Database;
  /** The database-wide epoch: the epoch of rooms never written. */
  readonly epoch: string;
  /** Called synchronously right after each commit, in offset order. */
  readonly publish: (message: StoredMessage) => void;
  /** True once the backend is closed. */
  readonly isClosed: () => boolean;
  /** At most this many appends per transaction (default 256). */
  readonly maxBatch?: number;
}

/** The SQLite message log, with what the backend needs to close it. */
export interface SqliteMessageLog extends MessageLog {
  /**
   * Commits the appends still queued, synchronously (their promises settle
   * and their messages are published). The backend calls it before closing
   * the database, so an append accepted before `close()` is stored.
   */
  flush(): void;
  /** Group-commit counters (transactions, appends, largest batch). */
  stats(): GroupCommitStats;
}

interface RoomRow {
  epoch: string;
  head_offset: bigint;
  trimmed_through: bigint;
}

interface MessageRow {
  room: string;
  msg_offset: bigint;
  id: string;
  sender_id: string;
  sender_name: string;
  text: string;
  attachments: string;
  time: bigint;
  client_message_id: string;
  /** "" when the message was stored untraced. */
  traceparent: string;
}

/** Largest value SQLite can bind: anchors beyond it mean "no bound". */
const maxInt64 = 0x7fff_ffff_ffff_ffffn;

/** Shared by every message stored without attachments. */
const noAttachments: readonly StoredFile[] = Object.freeze([]);

const columns =
  "room, msg_offset, id, sender_id, sender_name, text, attachments, time, client_message_id, traceparent";

/**
 * Creates the SQLite message log.
 *
 * Epoch choice: a room gets its epoch row on first append, initialised to
 * the database-wide epoch (a random id created with the database); `info()`
 * of a room never written returns that same id without writing. So an empty
 * room's epoch is kept by its first message, survives restarts, and changes
 * when the database is lost. The per-room column lets a future reset of one
 * room give it a new epoch.
 *
 * @example
 * const log = createSqliteMessageLog({ db, epoch, publish: fanout.publish, isClosed: () => closed });
 */
export function createSqliteMessageLog(options: SqliteMessageLogOptions): SqliteMessageLog {
  const { db, epoch: databaseEpoch, publish, isClosed } = options;
  const findRoom = db.prepare<[string], RoomRow>(
    "SELECT epoch, head_offset, trimmed_through FROM rooms WHERE room = ?",
  );
  const insertRoom = db.prepare<[string, string]>(
    "INSERT INTO rooms (room, epoch, head_offset, trimmed_through) VALUES (?, ?, 0, 0)",
  );
  const setHead = db.prepare<[bigint, string]>("UPDATE rooms SET head_offset = ? WHERE room = ?");
  const findByKey = db.prepare<[string, string, string], MessageRow>(
    `SELECT ${columns} FROM messages
     WHERE room = ? AND sender_id = ? AND client_message_id = ? AND client_message_id <> ''`,
  );
  const insertMessage = db.prepare(
    `INSERT INTO messages (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const forward = db.prepare<[string, bigint, number], MessageRow>(
    `SELECT ${columns} FROM messages WHERE room = ? AND msg_offset > ?
     ORDER BY msg_offset ASC LIMIT ?`,
  );
  const backward = db.prepare<[string, bigint, number], MessageRow>(
    `SELECT ${columns} FROM messages WHERE room = ? AND msg_offset < ?
     ORDER BY msg_offset DESC LIMIT ?`,
  );

  function roomInfo(room: string): RoomInfo {
    const row = findRoom.get(room);
    if (!row) return { room, epoch: databaseEpoch, headOffset: 0n, trimmedThrough: 0n };
    return {
      room,
      epoch: row.epoch,
      headOffset: row.head_offset,
      trimmedThrough: row.trimmed_through,
    };
  }

  function toMessage(row: MessageRow, epoch: string): StoredMessage {
    return Object.freeze({
      id: row.id,
      room: row.room,
      offset: row.msg_offset,
      epoch,
      sender: Object.freeze({ id: row.sender_id, name: row.sender_name }),
      text: row.text,
      attachments:
        row.attachments === "[]"
          ? noAttachments
          : Object.freeze(JSON.parse(row.attachments) as StoredFile[]),
      time: Number(row.time),
      clientMessageId: row.client_message_id,
      ...(row.traceparent !== "" ? { traceparent: row.traceparent } : {}),
    });
  }

  /**
   * Rooms read or written by the batch being applied (epoch and head as the
   * batch's transaction sees them), so an append reads its room's row once
   * per batch instead of once per message. Emptied by the group commit
   * whenever a write or a transaction is rolled back and when a transaction
   * ends.
   */
  const batchRooms = new Map<string, { epoch: string; head: bigint }>();

  /** One append; runs inside a group-commit transaction (in a savepoint when a write of its batch failed). */
  function appendOne(input: AppendInput): AppendResult {
    let room = batchRooms.get(input.room);
    if (room === undefined) {
      const row = findRoom.get(input.room);
      if (row) {
        room = { epoch: row.epoch, head: row.head_offset };
      } else {
        insertRoom.run(input.room, databaseEpoch);
        room = { epoch: databaseEpoch, head: 0n };
      }
      batchRooms.set(input.room, room);
    }
    if (input.clientMessageId !== "") {
      const first = findByKey.get(input.room, input.sender.id, input.clientMessageId);
      if (first) return { message: toMessage(first, room.epoch), duplicate: true };
    }
    const time = Date.now();
    const row: MessageRow = {
      room: input.room,
      msg_offset: room.head + 1n,
      id: timeOrderedId(time),
      sender_id: input.sender.id,
      sender_name: input.sender.name,
      text: input.text,
      attachments: input.attachments.length === 0 ? "[]" : JSON.stringify(input.attachments),
      time: BigInt(time),
      client_message_id: input.clientMessageId,
      traceparent: input.traceparent ?? "",
    };
    insertMessage.run(
      row.room,
      row.msg_offset,
      row.id,
      row.sender_id,
      row.sender_name,
      row.text,
      row.attachments,
      row.time,
      row.client_message_id,
      row.traceparent,
    );
    setHead.run(row.msg_offset, input.room);
    // Only now: a write that threw above left the head as it was (and the
    // group commit empties the cache when it rolls a write back).
    room.head = row.msg_offset;
    return { message: toMessage(row, room.epoch), duplicate: false };
  }

  const writes = createGroupCommit<AppendInput, AppendResult>({
    db,
    apply: appendOne,
    // Publish after the commit, in apply order (offset order per room).
    committed: (result) => {
      if (!result.duplicate) publish(result.message);
    },
    invalidate: () => batchRooms.clear(),
    size: (input) => input.text.length * 3 + input.attachments.length * 512 + 256,
    ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
  });

  const readTx = db.transaction((room: string, query: ReadQuery): ReadResult => {
    const info = roomInfo(room);
    const limit = Math.max(1, Math.floor(query.limit));
    const anchor = query.offset > maxInt64 ? maxInt64 : query.offset < 0n ? 0n : query.offset;
    if (query.direction === "forward") {
      const rows = forward.all(room, anchor, limit + 1);
      const hasMore = rows.length > limit;
      return { messages: rows.slice(0, limit).map((r) => toMessage(r, info.epoch)), hasMore, info };
    }
    const rows = backward.all(room, anchor === 0n ? maxInt64 : anchor, limit + 1);
    const hasMore = rows.length > limit;
    const messages = rows.slice(0, limit).map((r) => toMessage(r, info.epoch));
    return { messages: messages.reverse(), hasMore, info };
  });

  function run<T>(signal: AbortState | undefined, fn: () => T): T {
    if (isClosed()) throw new BackendClosedError();
    signal?.throwIfAborted();
    try {
      return fn();
    } catch (error) {
      throw mapSqliteError(error);
    }
  }

  return {
    append(input, signal) {
      if (isClosed()) return Promise.reject(new BackendClosedError());
      return writes.submit(input, signal);
    },
    async read(room, query, signal) {
      return run(signal, () => readTx(room, query));
    },
    async info(room, signal) {
      return run(signal, () => roomInfo(room));
    },
    flush: () => writes.flush(),
    stats: () => writes.stats(),
  };
}
