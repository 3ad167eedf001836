/**
 * JetStream {@link MessageLog}: one stream, one subject per room, the stream
 * sequence as offset.
 *
 * - append: publish with `Nats-Msg-Id` = hash(room, sender, clientMessageId)
 *   and resolve after the PubAck (stored, replicated). A PubAck marked
 *   duplicate carries the first copy's sequence, which is fetched and
 *   returned. Past the dedupe window the idempotency KV index (key → seq)
 *   catches the retry.
 * - read: an ordered consumer filtered on the room's subject from a start
 *   sequence; its `num_pending` gives `hasMore` without over-fetching.
 *   Backward pages look for their start with widening windows below the
 *   anchor.
 * - info: head = last message of the subject; trimmedThrough derived
 *   conservatively (see {@link createJetStreamMessageLog}).
 *
 * @module
 */
import type { StoredMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { MessageLog, ReadQuery, ReadResult, RoomInfo, StoredMessage } from "../types.js";
import { decodeMessage, encodeMessage, idempotencyKey } from "./codec.js";
import type { JetStreamConnection } from "./connection.js";
import { openCursor } from "./cursor.js";
import { isApiError, streamNotFoundCode } from "./messages-stream.js";
import type { JetStreamNames, ResolvedJetStreamOptions } from "./options.js";

/** What the log needs from the backend. */
export interface JetStreamMessageLogDeps {
  readonly conn: JetStreamConnection;
  readonly names: JetStreamNames;
  readonly options: ResolvedJetStreamOptions;
  /** The current epoch (from the stream's description). */
  epoch(): string;
  /** The idempotency index, or undefined when turned off. */
  readonly idempotency: KV | undefined;
  /** Resolves once local fan-out subscribers of `room` got `seq` (bounded wait). */
  afterAppend(room: string, seq: number): Promise<void>;
  /** Called when an operation found the stream missing. */
  onStreamMissing(): void;
}

interface RoomState {
  readonly info: RoomInfo;
  /** First sequence still in the stream (any room). */
  readonly streamFirst: number;
}

/**
 * Creates the message log.
 *
 * trimmedThrough: with a max age, messages below the stream's first
 * sequence are gone, so `first_seq - 1` is reported; with a per-room limit,
 * a room holding that many messages may have lost older ones, so `first seq
 * of the room - 1` is reported (the larger of both). This is conservative: a
 * room that never lost a message can report a trimmedThrough > 0 (a reader
 * is then told "not recovered" and gets all retained history), but a reader
 * whose position fell behind retention is never told it is complete.
 * Messages removed by hand (purge, delete) are not accounted for.
 *
 * @example
 * const log = createJetStreamMessageLog({ conn, names, options, epoch: () => epoch, idempotency, afterAppend, onStreamMissing });
 */
export function createJetStreamMessageLog(deps: JetStreamMessageLogDeps): MessageLog {
  const { conn, names, options, idempotency } = deps;
  const stream = names.messagesStream;
  const timeoutMs = options.requestTimeoutMs;

  function fail(error: unknown): Error {
    if (isApiError(error, streamNotFoundCode)) deps.onStreamMissing();
    return conn.toBackendError(error);
  }

  function decode(sm: StoredMsg | { data: Uint8Array; seq: number }): StoredMessage {
    return decodeMessage(sm.data, sm.seq, deps.epoch());
  }

  async function getBySeq(seq: number): Promise<StoredMsg | null> {
    return conn.jsm.streams.getMessage(stream, { seq });
  }

  async function roomState(room: string): Promise<RoomState> {
    const subject = names.roomSubject(room);
    const [si, last] = await Promise.all([
      conn.jsm.streams.info(stream, { subjects_filter: subject }),
      conn.jsm.streams.getMessage(stream, { last_by_subj: subject }),
    ]);
    const streamFirst = si.state.first_seq;
    // Without max age only the per-room limit drops messages (the stream's
    // first sequence then moves because of other rooms, not this one).
    let trimmed = options.maxAgeMs > 0 ? Math.max(0, streamFirst - 1) : 0;
    const count = si.state.subjects?.[subject] ?? 0;
    if (options.maxMessagesPerRoom > 0 && count >= options.maxMessagesPerRoom) {
      const first = await conn.jsm.streams.getMessage(stream, {
        seq: 0,
        next_by_subj: subject,
      } as unknown as { seq: number });
      if (first) trimmed = Math.max(trimmed, first.seq - 1);
    }
    return {
      info: Object.freeze({
        room,
        epoch: deps.epoch(),
        headOffset: BigInt(last?.seq ?? 0),
        trimmedThrough: BigInt(trimmed),
      }),
      streamFirst: Math.max(1, streamFirst),
    };
  }

  async function forward(room: string, state: RoomState, query: ReadQuery, limit: number) {
    if (query.offset >= state.info.headOffset) return { messages: [], hasMore: false };
    const cursor = await openCursor(conn, {
      stream,
      filter: names.roomSubject(room),
      startSeq: Number(query.offset) + 1,
      timeoutMs,
    });
    try {
      const got = await cursor.next(Math.min(limit, cursor.pending));
      return { messages: got.map(decode), hasMore: cursor.pending > limit };
    } finally {
      cursor.close();
    }
  }

  async function countFrom(subject: string, seq: number): Promise<number> {
    const cursor = await openCursor(conn, { stream, filter: subject, startSeq: seq, timeoutMs });
    cursor.close();
    return cursor.pending;
  }

  async function backward(room: string, state: RoomState, query: ReadQuery, limit: number) {
    const head = Number(state.info.headOffset);
    if (head === 0) return { messages: [], hasMore: false };
    const anchor =
      query.offset === 0n || query.offset > state.info.headOffset ? head + 1 : Number(query.offset);
    const first = state.streamFirst;
    if (anchor <= first) return { messages: [], hasMore: false };
    const subject = names.roomSubject(room);
    const atAnchor = anchor > head ? 0 : await countFrom(subject, anchor);
    let window = limit + 1;
    for (;;) {
      const start = Math.max(first, anchor - window);
      const cursor = await openCursor(conn, {
        stream,
        filter: subject,
        startSeq: start,
        timeoutMs,
      });
      try {
        const estimate = cursor.pending - atAnchor;
        if (estimate < limit + 1 && start > first) {
          window = Math.min(anchor, grow(window, estimate, limit));
          continue;
        }
        const fetched = await cursor.next(Math.min(cursor.pending, Math.max(0, estimate)));
        const below = fetched.filter((m) => m.seq < anchor);
        if (below.length < limit + 1 && start > first) {
          window = Math.min(anchor, grow(window, below.length, limit));
          continue;
        }
        return { messages: below.slice(-limit).map(decode), hasMore: below.length > limit };
      } finally {
        cursor.close();
      }
    }
  }

  return {
    async append(input, signal) {
      conn.check();
      signal?.throwIfAborted();
      const subject = names.roomSubject(input.room);
      const key =
        input.clientMessageId === ""
          ? undefined
          : idempotencyKey(input.room, input.sender.id, input.clientMessageId);
      try {
        if (key && idempotency) {
          const entry = await idempotency.get(key);
          if (entry && entry.operation === "PUT") {
            const sm = await getBySeq(Number(entry.string()));
            if (sm && sm.subject === subject) return { message: decode(sm), duplicate: true };
          }
        }
        const payload = encodeMessage(input);
        const ack = await conn.js.publish(subject, payload, {
          ...(key ? { msgID: key } : {}),
          timeout: timeoutMs,
        });
        if (ack.duplicate) {
          const sm = await getBySeq(ack.seq);
          if (sm) return { message: decode(sm), duplicate: true };
        }
        if (key && idempotency) {
          // Best effort: within the dedupe window Nats-Msg-Id covers a retry anyway.
          await idempotency.put(key, String(ack.seq)).catch(() => {});
        }
        const message = decode({ data: payload, seq: ack.seq });
        await deps.afterAppend(input.room, ack.seq);
        return { message, duplicate: false };
      } catch (error) {
        throw fail(error);
      }
    },

    async read(room, query, signal): Promise<ReadResult> {
      conn.check();
      signal?.throwIfAborted();
      const limit = Math.max(1, Math.floor(query.limit));
      try {
        const state = await roomState(room);
        const page =
          query.direction === "forward"
            ? await forward(room, state, query, limit)
            : await backward(room, state, query, limit);
        return { ...page, info: state.info };
      } catch (error) {
        throw fail(error);
      }
    },

    async info(room, signal) {
      conn.check();
      signal?.throwIfAborted();
      try {
        return (await roomState(room)).info;
      } catch (error) {
        throw fail(error);
      }
    },
  };
}

/** The next window of a backward search: at least double, or as much as the density suggests. */
function grow(window: number, found: number, limit: number): number {
  const byDensity = Math.ceil((window * (limit + 1) * 1.25) / Math.max(1, found));
  return Math.max(window * 2, byDensity);
}
