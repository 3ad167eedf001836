/**
 * Backend contracts. The service handlers (src/service) talk only to these
 * interfaces; `create-backend.ts` is the one place that picks an
 * implementation (memory/, sqlite/, and later jetstream/), and `contract/`
 * is the one test suite every implementation passes.
 *
 * Offsets are `bigint` (protobuf uint64). Times are milliseconds since the
 * Unix epoch.
 *
 * @module
 */

/** A user as known from a verified token. */
export interface UserRef {
  /** The token's subject. */
  readonly id: string;
  /** Display name (the subject when the token has none). */
  readonly name: string;
}

/** Description of a stored file. */
export interface StoredFile {
  readonly id: string;
  readonly name: string;
  readonly contentType: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the content. */
  readonly sha256: string;
  /** Room the file was uploaded for; "" when none. */
  readonly room: string;
  readonly uploader: UserRef;
  readonly createdAt: number;
}

/** One stored message. */
export interface StoredMessage {
  /** Unique id of the message (unique across rooms and epochs). */
  readonly id: string;
  readonly room: string;
  /** Strictly increasing within a room and epoch; not necessarily contiguous. */
  readonly offset: bigint;
  /** Identifies the room's history; changes when the history is lost or reset. */
  readonly epoch: string;
  readonly sender: UserRef;
  readonly text: string;
  readonly attachments: readonly StoredFile[];
  readonly time: number;
  /** The sender's idempotency key; "" when none was given. */
  readonly clientMessageId: string;
  /**
   * W3C `traceparent` of the Send that stored the message, when it was traced,
   * so deliveries can link to it. Stored and returned as is; never sent to clients.
   */
  readonly traceparent?: string;
}

/** What `MessageLog.append` stores. */
export interface AppendInput {
  readonly room: string;
  readonly sender: UserRef;
  readonly text: string;
  readonly attachments: readonly StoredFile[];
  /** Idempotency key; "" disables deduplication for this append. */
  readonly clientMessageId: string;
  /** W3C `traceparent` of the producing call, kept with the message (see StoredMessage). */
  readonly traceparent?: string;
}

/** Result of `MessageLog.append`. */
export interface AppendResult {
  /** The stored message: the first one stored, when `duplicate`. */
  readonly message: StoredMessage;
  /** True when (room, sender.id, clientMessageId) was already stored. */
  readonly duplicate: boolean;
}

/** Where a room stands. */
export interface RoomInfo {
  readonly room: string;
  /** Current epoch. A room that never had a message still has one. */
  readonly epoch: string;
  /** Offset of the newest stored message; 0n when the room is empty. */
  readonly headOffset: bigint;
  /**
   * Highest offset that is known to be no longer retained (trimmed by
   * retention); 0n when nothing was ever dropped. A reader asking for messages
   * after an offset lower than this one cannot be given a gap-free history.
   */
  readonly trimmedThrough: bigint;
}

/** A page request for `MessageLog.read`. */
export interface ReadQuery {
  /** "forward": offsets > `offset`, ascending. "backward": offsets < `offset` (or the newest when `offset` is 0n). */
  readonly direction: "forward" | "backward";
  /** Exclusive anchor offset. */
  readonly offset: bigint;
  /** Maximum number of messages, at least 1. */
  readonly limit: number;
}

/** A page of messages. */
export interface ReadResult {
  /** Messages in ascending offset order, whatever the direction. */
  readonly messages: StoredMessage[];
  /** True when more messages exist further in the requested direction. */
  readonly hasMore: boolean;
  /** The room at the time of the read. */
  readonly info: RoomInfo;
}

/**
 * MessageLog is the durable, ordered history of every room.
 *
 * Guarantees:
 * - `append` resolves only once the message is durable (it survives a crash
 *   or restart of the backend) and visible to `read`. A backend may write
 *   concurrent appends together (SQLite: one transaction per event-loop
 *   turn); each still resolves only after the write holding it is durable,
 *   and an append refused on its own (e.g. by a constraint) does not fail
 *   the others written with it.
 * - Offsets are strictly increasing per room within an epoch, and never reused.
 * - Idempotency: an append with the same (room, sender.id, clientMessageId) as
 *   a stored message stores nothing and resolves with that message and
 *   `duplicate: true`, for as long as the message is retained.
 * - Every appended message is handed to the paired {@link FanOut} in offset
 *   order per room (see FanOut for delivery guarantees).
 * - The epoch of a room changes only when its history is lost or reset.
 *
 * Errors: {@link BackendUnavailableError} when the store cannot be reached;
 * {@link BackendClosedError} after `close()`.
 */
export interface MessageLog {
  append(input: AppendInput, signal?: AbortState): Promise<AppendResult>;
  read(room: string, query: ReadQuery, signal?: AbortState): Promise<ReadResult>;
  info(room: string, signal?: AbortState): Promise<RoomInfo>;
}

/**
 * What a {@link MessageLog} reads of its caller's cancellation: whether it
 * was cancelled and why, checked before the work is done (an applied write
 * is never undone by it). Every `AbortSignal` is one; the server's fast path
 * passes its call context, which answers without creating an
 * `AbortController` per call.
 */
export type AbortState = Pick<AbortSignal, "aborted" | "reason" | "throwIfAborted">;

/** A live subscription to one room's fan-out. */
export interface FanOutSubscription {
  /**
   * Stops delivery at once. Idempotent. After `close()` neither the listener
   * nor `onEnd` is called again.
   */
  close(): void;
}

/** Options of {@link FanOut.subscribe}. */
export interface FanOutSubscribeOptions {
  /**
   * Called once when the backend ends the subscription for any reason other
   * than `close()` by the subscriber; never after `close()`, and never more
   * than once. After it no message is delivered and the subscription no
   * longer counts in `activeSubscriptions`; calling `close()` is allowed and
   * does nothing.
   *
   * `reason` is:
   * - {@link BackendClosedError} when the backend was closed;
   * - the error the listener threw (wrapped in an `Error` when it threw a
   *   non-Error) when the listener threw;
   * - {@link BackendUnavailableError} when a remote backend lost the
   *   subscription (e.g. a broker disconnect it could not bridge without a gap).
   *
   * It is called synchronously from the backend (like the listener): it must
   * not block, and what it throws is ignored. It may run before the promise of
   * `subscribe` settles (the backend closed in between); the subscriber
   * should then treat the subscription as already ended.
   */
  readonly onEnd?: (reason: Error) => void;
}

/**
 * FanOut delivers newly appended messages to live subscribers.
 *
 * Guarantees, per subscription:
 * - Every message appended to the room after `subscribe` resolved is
 *   delivered exactly once, in offset order, while the subscription is open.
 * - Messages appended shortly before `subscribe` resolved may also be
 *   delivered; the subscriber removes them by offset. This overlap is what
 *   lets a reader subscribe first, then replay history, then drain live
 *   messages with no gap and no duplicate at the seam.
 * - The listener is called synchronously from the backend's delivery loop; it
 *   must not block (queue and return). A listener that throws is closed.
 * - A subscription the backend ends (listener threw, backend closed, remote
 *   subscription lost) is reported once through `options.onEnd`, so a
 *   subscriber is never left waiting for messages that cannot come. A
 *   subscription ended by the subscriber's own `close()` is not reported.
 * - `Backend.close()` ends every open subscription with
 *   {@link BackendClosedError}; later `subscribe` calls reject with it.
 * - Each message object is shared by all subscribers: never mutate it.
 */
export interface FanOut {
  subscribe(
    room: string,
    listener: (message: StoredMessage) => void,
    options?: FanOutSubscribeOptions,
  ): Promise<FanOutSubscription>;
  /** Number of open subscriptions in this process (all rooms). */
  readonly activeSubscriptions: number;
}

/** Metadata given when an upload starts. */
export interface BlobMeta {
  readonly name: string;
  readonly contentType: string;
  readonly room: string;
  readonly uploader: UserRef;
}

/** An upload in progress. Exactly one of `commit` or `abort` must be called. */
export interface BlobWriter {
  /** Bytes written so far. */
  readonly size: number;
  /** Appends bytes; resolves when they are accepted (respects backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the file durable and visible; returns its description with sha256. */
  commit(): Promise<StoredFile>;
  /** Discards everything written: no visible file and no temp file remain. Idempotent. */
  abort(): Promise<void>;
}

/**
 * BlobStore keeps uploaded files.
 *
 * Guarantees:
 * - A file is visible (to `stat` and `read`) only after `commit` resolved,
 *   and then it is durable and immutable.
 * - An aborted or abandoned upload leaves no visible file and no temp file.
 * - `read` streams the file from a byte offset in bounded chunks; it never
 *   holds the whole file in memory.
 *
 * Errors: {@link NotFoundError} for an unknown id; {@link OutOfRangeError}
 * for an offset past the end.
 */
export interface BlobStore {
  create(meta: BlobMeta): Promise<BlobWriter>;
  stat(id: string): Promise<StoredFile>;
  read(id: string, offset: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** Uploads started and neither committed nor aborted (for leak checks). */
  readonly openUploads: number;
}

/** A change of presence in a room. */
export interface PresenceChange {
  readonly room: string;
  readonly kind: "join" | "leave";
  readonly user: UserRef;
}

/** A user's presence in a room; leave() ends it. */
export interface PresenceHandle {
  leave(): Promise<void>;
}

/**
 * Presence tracks who is in which room now.
 *
 * Guarantees:
 * - A user is listed while at least one of their handles for the room is open
 *   (several connections of one user count once).
 * - Watchers see a "join" when a user's first handle opens and a "leave" when
 *   the last closes, in that order per user.
 * - A process that dies stops counting: its users disappear (memory: with the
 *   process; cluster backends: within a TTL).
 */
export interface Presence {
  join(room: string, user: UserRef): Promise<PresenceHandle>;
  list(room: string): Promise<UserRef[]>;
  watch(room: string, listener: (change: PresenceChange) => void): Promise<{ close(): void }>;
}

/** Readiness of a backend, for health checks. */
export interface BackendHealth {
  readonly ready: boolean;
  /** Why it is not ready; "" when ready. */
  readonly reason: string;
}

/** A complete backend: one implementation of every role. */
export interface Backend {
  /** "memory", "sqlite", … */
  readonly kind: string;
  readonly log: MessageLog;
  readonly fanout: FanOut;
  readonly blobs: BlobStore;
  readonly presence: Presence;
  health(): BackendHealth;
  /**
   * Flushes and releases everything. Idempotent. Open fan-out subscriptions
   * end with {@link BackendClosedError} (their `onEnd` is called) before it
   * resolves; every later call of any role rejects with that error.
   */
  close(): Promise<void>;
}

export {
  BackendClosedError,
  BackendUnavailableError,
  NotFoundError,
  OutOfRangeError,
} from "./errors.js";
