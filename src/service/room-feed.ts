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
import type { AbortState, FanOutSubscription, RoomInfo, StoredMessage } from "../backend/types.js";
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
  /** The call's abort state: checked before each backend read of the replay; the caller closes the feed. */
  readonly abort: AbortState;
}

interface Plan {
  /** Replay messages with offsets greater than this; undefined = no replay (live). */
  readonly anchor: bigint | undefined;
  readonly recovered: boolean;
}

const buffering = 0;
const live = 1;
const closed = 2;

/** The state of one feed (module functions below work on it: no closure per feed but two). */
interface FeedState {
  readonly options: RoomFeedOptions;
  phase: typeof buffering | typeof live | typeof closed;
  /** Live messages received while buffering; created on the first. */
  pending: StoredMessage[] | undefined;
  pendingBytes: number;
  /** Epoch and offset of the last message emitted (or the start point); no emit before set. */
  lastEpoch: string | undefined;
  lastOffset: bigint;
  /** Why the backend ended the subscription (never after our own close()). */
  ended: Error | undefined;
  subscription: FanOutSubscription | undefined;
}

/**
 * Opens a feed: subscribes to the fan-out, reads the room's info and decides
 * the start. Call `start()` after sending the room's state to the client.
 *
 * @example
 * const feed = await openRoomFeed({ deps, position, sink, abort: callAbortState(ctx) });
 * queue.push(roomStateEvent(feed.state), …);
 * await feed.start();
 */
export async function openRoomFeed(options: RoomFeedOptions): Promise<RoomFeed> {
  const { deps, position, abort } = options;
  const f: FeedState = {
    options,
    phase: buffering,
    pending: undefined,
    pendingBytes: 0,
    lastEpoch: undefined,
    lastOffset: 0n,
    ended: undefined,
    subscription: undefined,
  };
  try {
    f.subscription = await deps.backend.fanout.subscribe(
      position.room,
      (message) => receive(f, message),
      {
        onEnd(reason) {
          endFeed(f, reason);
        },
      },
    );
    throwIfAborted(abort);
    const info = await deps.backend.log.info(position.room, abort);
    const plan = await planStart(options, info);
    if (f.ended) throw f.ended;
    f.lastEpoch = info.epoch;
    f.lastOffset = plan.anchor ?? info.headOffset;
    return feedHandle(f, toRoomState(info, plan.recovered), plan.anchor, info.epoch);
  } catch (err) {
    closeFeed(f);
    throw toConnectError(err, abort);
  }
}

/** The RoomFeed of a feed (its closures hold only what `start` needs, not the room's info). */
function feedHandle(
  f: FeedState,
  state: RoomState,
  anchor: bigint | undefined,
  epoch: string,
): RoomFeed {
  return {
    state,
    close() {
      closeFeed(f);
    },
    start() {
      return startFeed(f, anchor, epoch);
    },
  };
}

/** Emits a message unless it is at or before the last one emitted. */
function emit(f: FeedState, message: StoredMessage, isLive: boolean): void {
  if (message.epoch === f.lastEpoch && message.offset <= f.lastOffset) return;
  f.lastEpoch = message.epoch;
  f.lastOffset = message.offset;
  f.options.sink.message(message, isLive);
}

/** The fan-out listener. */
function receive(f: FeedState, message: StoredMessage): void {
  try {
    if (f.phase === live) {
      emit(f, message, true);
    } else if (f.phase === buffering) {
      if (f.pending === undefined) f.pending = [];
      f.pending.push(message);
      f.pendingBytes += estimateMessageBytes(message);
      const max = f.options.deps.limits.maxQueueBytes;
      if (f.pendingBytes > max) {
        const msg = `slow consumer: room "${f.options.position.room}" received more than ${max} bytes of live messages while its history was replayed`;
        f.options.sink.fail(new ConnectError(msg, Code.ResourceExhausted));
      }
    }
  } catch (err) {
    f.options.sink.fail(toConnectError(err));
  }
}

/** The backend ended the subscription (never after our own close()). */
function endFeed(f: FeedState, reason: Error): void {
  if (f.phase === closed) return;
  f.ended = reason;
  f.phase = closed;
  f.pending = undefined;
  f.options.sink.fail(toConnectError(reason, f.options.abort));
}

function closeFeed(f: FeedState): void {
  f.phase = closed;
  f.pending = undefined;
  f.subscription?.close();
}

async function startFeed(f: FeedState, anchor: bigint | undefined, epoch: string): Promise<void> {
  try {
    if (anchor !== undefined) await replay(f, anchor, epoch);
    if (f.ended) throw f.ended;
    if (f.phase !== buffering) return;
    const buffered = f.pending;
    f.pending = undefined;
    f.pendingBytes = 0;
    f.phase = live;
    if (buffered !== undefined) for (const message of buffered) emit(f, message, true);
  } catch (err) {
    throw toConnectError(err, f.options.abort);
  }
}

async function replay(f: FeedState, anchor: bigint, epoch: string): Promise<void> {
  const { deps, position, sink, abort } = f.options;
  let cursor = anchor;
  for (;;) {
    throwIfAborted(abort);
    const page = await deps.backend.log.read(
      position.room,
      { direction: "forward", offset: cursor, limit: deps.limits.replayPageSize },
      abort,
    );
    for (const message of page.messages) {
      await sink.whenWritable(estimateMessageBytes(message));
      if (f.phase === closed) return;
      emit(f, message, false);
    }
    const tail = page.messages.at(-1);
    if (!page.hasMore || tail === undefined) return;
    if (tail.epoch !== epoch) return;
    cursor = tail.offset;
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
  const { deps, position, abort } = options;
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
      abort,
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
