/**
 * A room feed: one room's history from a requested position followed by its
 * live messages, with no gap and no duplicate at the seam. Shared by
 * Subscribe and Chat.
 *
 * How the seam is closed:
 * 1. subscribe to the fan-out FIRST; live messages are buffered;
 * 2. read the room's info (epoch, head, trimmed) and decide where to start;
 * 3. replay history forward from there, page by page, until caught up;
 * 4. drain the buffer, skipping every offset already emitted;
 * 5. from then on deliver live messages directly (still skipping old offsets).
 * Every message appended after step 1 is in the buffer or in the replay
 * (usually both), so nothing is lost; the offset check removes the overlap.
 *
 * When the backend ends the fan-out subscription (backend closed, remote
 * subscription lost) the feed fails its sink with the mapped error
 * (BackendClosedError → Unavailable "server is shutting down"), so the
 * stream ends instead of waiting forever for live messages.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { FanOutSubscription, RoomInfo, StoredMessage } from "../backend/types.js";
import type { RoomPosition, RoomState } from "../gen/switchboard/chat/v1/chat_pb.js";
import { estimateMessageBytes, toRoomState } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { throwIfAborted, toConnectError } from "./errors.js";

/** Where a feed receives its messages. */
export interface RoomFeedSink {
  /**
   * One message, in offset order, never twice. Must not block. `live` is
   * false for messages replayed from history.
   */
  message(message: StoredMessage, live: boolean): void;
  /** Resolves when `bytes` more may be queued (replay waits for the consumer). */
  whenWritable(bytes: number): Promise<void>;
  /**
   * Ends the whole stream (slow consumer while replaying, backend failure of
   * live delivery, the backend ending the subscription). Called at most once
   * per feed for the subscription's end.
   */
  fail(error: ConnectError): void;
}

/** An open room feed. Nothing is delivered before {@link RoomFeed.start}. */
export interface RoomFeed {
  /** Where the room stood when the feed opened, and whether the position was honoured. */
  readonly state: RoomState;
  /**
   * Replays history, then switches to live delivery. Resolves once live;
   * rejects (with a ConnectError) if the replay fails or the backend ended
   * the subscription first.
   */
  start(): Promise<void>;
  /** Stops delivery and releases the fan-out subscription. Idempotent. */
  close(): void;
}

/** Options of {@link openRoomFeed}. */
export interface RoomFeedOptions {
  readonly deps: ServiceDeps;
  /** A validated position (see `validateRoomPosition`). */
  readonly position: RoomPosition;
  readonly sink: RoomFeedSink;
  /** Aborts the replay; the caller closes the feed. */
  readonly signal: AbortSignal;
}

interface Plan {
  /** Replay messages with offsets greater than this; undefined = no replay (live). */
  readonly anchor: bigint | undefined;
  readonly recovered: boolean;
}

/**
 * Opens a feed: subscribes to the fan-out, reads the room's info and decides
 * the start. Call `start()` after sending the room's state to the client.
 *
 * @example
 * const feed = await openRoomFeed({ deps, position, sink, signal: ctx.signal });
 * queue.push(roomStateEvent(feed.state), …);
 * await feed.start();
 */
export async function openRoomFeed(options: RoomFeedOptions): Promise<RoomFeed> {
  const { deps, position, sink, signal } = options;
  const { log, fanout } = deps.backend;
  const room = position.room;
  let phase: "buffering" | "live" | "closed" = "buffering";
  let pending: StoredMessage[] = [];
  let pendingBytes = 0;
  let last: { epoch: string; offset: bigint } | undefined;

  const deliver = (message: StoredMessage, live = true) => {
    if (last && message.epoch === last.epoch && message.offset <= last.offset) return;
    last = { epoch: message.epoch, offset: message.offset };
    sink.message(message, live);
  };
  const listener = (message: StoredMessage) => {
    try {
      if (phase === "live") {
        deliver(message);
      } else if (phase === "buffering") {
        pending.push(message);
        pendingBytes += estimateMessageBytes(message);
        if (pendingBytes > deps.limits.maxQueueBytes) {
          const msg = `slow consumer: room "${room}" received more than ${deps.limits.maxQueueBytes} bytes of live messages while its history was replayed`;
          sink.fail(new ConnectError(msg, Code.ResourceExhausted));
        }
      }
    } catch (err) {
      sink.fail(toConnectError(err));
    }
  };

  // The backend ended the subscription (never after our own close()).
  let ended: Error | undefined;
  const onEnd = (reason: Error) => {
    if (phase === "closed") return;
    ended = reason;
    phase = "closed";
    pending = [];
    sink.fail(toConnectError(reason, signal));
  };

  let subscription: FanOutSubscription | undefined;
  const close = () => {
    phase = "closed";
    pending = [];
    subscription?.close();
  };
  try {
    subscription = await fanout.subscribe(room, listener, { onEnd });
    throwIfAborted(signal);
    const info = await log.info(room, signal);
    const plan = await planStart(options, info);
    if (ended) throw ended;
    if (plan.anchor !== undefined) {
      last = { epoch: info.epoch, offset: plan.anchor };
    } else {
      last = { epoch: info.epoch, offset: info.headOffset };
    }
    const state = toRoomState(info, plan.recovered);
    return {
      state,
      close,
      async start() {
        try {
          if (plan.anchor !== undefined) await replay(plan.anchor, info.epoch);
          if (ended) throw ended;
          if (phase !== "buffering") return;
          const buffered = pending;
          pending = [];
          pendingBytes = 0;
          phase = "live";
          for (const message of buffered) deliver(message);
        } catch (err) {
          throw toConnectError(err, signal);
        }
      },
    };
  } catch (err) {
    close();
    throw toConnectError(err, signal);
  }

  async function replay(anchor: bigint, epoch: string): Promise<void> {
    let cursor = anchor;
    for (;;) {
      throwIfAborted(signal);
      const page = await log.read(
        room,
        { direction: "forward", offset: cursor, limit: deps.limits.replayPageSize },
        signal,
      );
      for (const message of page.messages) {
        await sink.whenWritable(estimateMessageBytes(message));
        if (phase === "closed") return;
        deliver(message, false);
      }
      const tail = page.messages.at(-1);
      if (!page.hasMore || tail === undefined) return;
      if (tail.epoch !== epoch) return;
      cursor = tail.offset;
    }
  }
}

/**
 * Decides where a feed starts.
 * - no start: live, from the head; recovered.
 * - after_offset N: replay offsets > N; recovered. Not recovered (and replay
 *   of all retained history instead) when the given epoch differs from the
 *   room's, when N < trimmedThrough (messages after N were dropped), or when
 *   N > head (an offset this epoch never had).
 * - last K: replay the newest K messages; recovered. K = 0 is live.
 */
async function planStart(options: RoomFeedOptions, info: RoomInfo): Promise<Plan> {
  const { position } = options;
  const start = position.start;
  switch (start.case) {
    case "afterOffset": {
      const n = start.value;
      const stale =
        (position.epoch !== "" && position.epoch !== info.epoch) ||
        n < info.trimmedThrough ||
        n > info.headOffset;
      return stale ? { anchor: 0n, recovered: false } : { anchor: n, recovered: true };
    }
    case "last": {
      if (start.value === 0) return { anchor: undefined, recovered: true };
      return { anchor: await anchorForLast(options, start.value, info), recovered: true };
    }
    default:
      return { anchor: undefined, recovered: true };
  }
}

/** Finds the anchor just before the newest `count` messages by scanning backward page by page. */
async function anchorForLast(
  options: RoomFeedOptions,
  count: number,
  info: RoomInfo,
): Promise<bigint> {
  const { deps, position, signal } = options;
  let remaining = count;
  let cursor = 0n;
  let oldest: bigint | undefined;
  while (remaining > 0) {
    const page = await deps.backend.log.read(
      position.room,
      {
        direction: "backward",
        offset: cursor,
        limit: Math.min(remaining, deps.limits.replayPageSize),
      },
      signal,
    );
    const first = page.messages[0];
    if (first === undefined) break;
    oldest = first.offset;
    remaining -= page.messages.length;
    if (!page.hasMore || oldest <= 1n) break;
    cursor = oldest;
  }
  if (oldest === undefined) return info.headOffset;
  return oldest > 0n ? oldest - 1n : 0n;
}
