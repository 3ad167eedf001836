/**
 * The output queue of one server stream (Subscribe, Chat): producers (room
 * feeds, presence watchers, request handlers) push events, the handler's
 * generator pulls them. It is bounded in bytes, ends on abort, and produces
 * heartbeats while idle (through the shared {@link heartbeatTicker}, not a
 * timer per stream).
 *
 * Built to be cheap per stream and per event: nothing is allocated per
 * queued event but the iterator result, the queue's storage is created on
 * the first event that has to wait, and an event pushed while the consumer
 * waits is handed to it at once.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { AbortState } from "../backend/types.js";
import type { CallEnd } from "./call-end.js";
import { abortError } from "./errors.js";
import { type HeartbeatMember, type HeartbeatTicker, heartbeatTicker } from "./heartbeat-ticker.js";

/** How an event is accounted for. */
export interface EventMeta {
  /** Estimated wire size in bytes (counts against `maxBytes`). */
  readonly bytes: number;
  /** Room of a message event, to report the last delivered offset per room. */
  readonly room?: string;
  /** Offset of a message event. */
  readonly offset?: bigint;
}

/** Options of {@link createEventQueue}. */
export interface EventQueueOptions<T> {
  /** Maximum bytes queued; a live push beyond it ends the stream with ResourceExhausted. */
  readonly maxBytes: number;
  /**
   * Idle time after which `heartbeat()` is yielded: the consumer waited
   * that long for an event (up to ≈ 1.25 × this, see heartbeat-ticker.ts).
   */
  readonly heartbeatMs: number;
  /** Makes a heartbeat event. */
  readonly heartbeat: () => T;
  /** The call's end: it ends the stream (with Canceled or DeadlineExceeded, see `abortError`). */
  readonly end: CallEnd;
  /** Called once when the stream fails (slow consumer, abort, `fail`), before it is consumed. */
  readonly onFail?: (error: ConnectError) => void;
}

/** A bounded, multi-producer, single-consumer event stream. */
export interface EventQueue<T> extends AsyncIterable<T> {
  /**
   * Queues an event without waiting. When the queue would exceed `maxBytes`
   * the stream fails with ResourceExhausted ("slow consumer: …") and `false`
   * is returned. Pushing to a closed queue is a no-op returning `false`.
   */
  push(event: T, meta: EventMeta): boolean;
  /**
   * Waits until `bytes` more fit (or the queue is empty), for producers that
   * can wait (history replay). Rejects once the queue is closed or failed.
   */
  whenWritable(bytes: number): Promise<void>;
  /** Ends the stream with an error (after nothing else: queued events are dropped). */
  fail(error: ConnectError): void;
  /** Ends the stream normally once the queued events are consumed. */
  end(): void;
  /** True once ended, failed or aborted. */
  readonly closed: boolean;
  /** Events queued and not yet consumed (for the queue-depth metrics). */
  readonly length: number;
  /** Their bytes, as given in `EventMeta.bytes`. */
  readonly bytes: number;
}

/** One waiting producer of {@link EventQueue.whenWritable}. */
interface Writer {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** Cells per queued event in the store: event, bytes, room, offset. */
const slots = 4;
const done: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

/**
 * One queue: its public face and its state. It is also its own async
 * iterator, heartbeat member (`beat`) and abort listener (`handleEvent`), and
 * its methods live on the prototype, so that an idle stream holds one object
 * and no closure, timer or listener function of its own. The methods call
 * the module functions below.
 */
class QueueState<T> implements EventQueue<T>, AsyncIterator<T, undefined>, HeartbeatMember {
  length = 0;
  bytes = 0;
  closed = false;
  active = false;
  lastActive = Date.now();
  readonly maxBytes: number;
  readonly heartbeat: () => T;
  readonly abort: AbortState;
  readonly onFail: ((error: ConnectError) => void) | undefined;
  readonly ticker: HeartbeatTicker;
  /** Queued events from `head` on, `slots` cells each; created on demand. */
  store: unknown[] | undefined = undefined;
  head = 0;
  /** Last delivered offset per room; created on the first delivered message. */
  delivered: Map<string, bigint> | undefined = undefined;
  ended = false;
  failure: ConnectError | undefined = undefined;
  /** The consumer waiting in next(), if any (the queue is then empty). */
  waiting: ((result: IteratorResult<T, undefined>) => void) | undefined = undefined;
  waitingFail: ((error: unknown) => void) | undefined = undefined;
  writers: Writer[] | undefined = undefined;
  /** True once the call's end and the ticker are no longer listened to. */
  detached = false;

  constructor(options: EventQueueOptions<T>) {
    this.maxBytes = options.maxBytes;
    this.heartbeat = options.heartbeat;
    this.abort = options.end.state;
    this.onFail = options.onFail;
    this.ticker = heartbeatTicker(options.heartbeatMs);
  }

  push(event: T, meta: EventMeta): boolean {
    return push(this, event, meta);
  }
  whenWritable(bytes: number): Promise<void> {
    return whenWritable(this, bytes);
  }
  fail(error: ConnectError): void {
    fail(this, error);
  }
  end(): void {
    end(this);
  }
  next(): Promise<IteratorResult<T, undefined>> {
    return next(this);
  }
  async return(): Promise<IteratorResult<T, undefined>> {
    cleanup(this);
    return done;
  }
  async throw(e: unknown): Promise<IteratorResult<T, undefined>> {
    cleanup(this);
    throw e;
  }
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return this;
  }
  /** `HeartbeatMember.beat`: yields a heartbeat to a waiting consumer. */
  beat(): boolean {
    const resolve = this.waiting;
    if (resolve === undefined) return false;
    this.waiting = undefined;
    this.waitingFail = undefined;
    resolve({ done: false, value: this.heartbeat() });
    return true;
  }
  /** Runs when the call ends: fails the stream unless it is already over. */
  callEnded(): void {
    if (!this.detached) fail(this, abortError(this.abort));
  }
}

/**
 * Creates an {@link EventQueue}. Iterate it exactly once.
 *
 * @example
 * const queue = createEventQueue({ maxBytes: 1 << 20, heartbeatMs: 15_000, heartbeat: makeHb, end: callEnd(ctx) });
 * queue.push(event, { bytes: 100 });
 * for await (const event of queue) yield event;
 */
export function createEventQueue<T>(options: EventQueueOptions<T>): EventQueue<T> {
  const q = new QueueState(options);
  if (q.abort.aborted) fail(q, abortError(q.abort));
  else {
    q.ticker.add(q);
    // One callback per stream: the call-end hook has no removal, so it
    // checks `detached` (see callEnded).
    options.end.onEnd(() => q.callEnded());
  }
  return q;
}

function push<T>(s: QueueState<T>, event: T, meta: EventMeta): boolean {
  if (s.ended || s.failure) return false;
  const resolve = s.waiting;
  if (resolve !== undefined) {
    // The consumer waits, so nothing is queued: hand the event over.
    s.waiting = undefined;
    s.waitingFail = undefined;
    noteTaken(s, meta.room, meta.offset);
    resolve({ done: false, value: event });
    return true;
  }
  if (s.bytes + meta.bytes > s.maxBytes && s.length > 0) {
    fail(s, slowConsumer(s));
    return false;
  }
  if (s.store === undefined) s.store = [];
  s.store.push(event, meta.bytes, meta.room, meta.offset);
  s.length++;
  s.bytes += meta.bytes;
  return true;
}

function next<T>(s: QueueState<T>): Promise<IteratorResult<T, undefined>> {
  if (s.failure) {
    detach(s);
    return Promise.reject(s.failure);
  }
  if (s.length > 0) return Promise.resolve(take(s));
  if (s.ended) {
    detach(s);
    return Promise.resolve(done);
  }
  return new Promise<IteratorResult<T, undefined>>((resolve, reject) => {
    s.waiting = resolve;
    s.waitingFail = reject;
  });
}

/** Takes the oldest queued event (count > 0). */
function take<T>(s: QueueState<T>): IteratorResult<T, undefined> {
  const store = s.store!;
  const at = s.head;
  const event = store[at] as T;
  s.bytes -= store[at + 1] as number;
  noteTaken(s, store[at + 2] as string | undefined, store[at + 3] as bigint | undefined);
  store[at] = store[at + 2] = store[at + 3] = undefined;
  s.head = at + slots;
  if (--s.length === 0) {
    store.length = 0;
    s.head = 0;
  } else if (s.head >= 1024 && s.head * 2 >= store.length) {
    store.splice(0, s.head);
    s.head = 0;
  }
  if (s.writers !== undefined) settleWriters(s);
  return { done: false, value: event };
}

/** Records that the consumer took an event: activity, and a message's room and offset. */
function noteTaken<T>(
  s: QueueState<T>,
  room: string | undefined,
  offset: bigint | undefined,
): void {
  s.active = true;
  if (room === undefined || offset === undefined) return;
  if (s.delivered === undefined) s.delivered = new Map();
  s.delivered.set(room, offset);
}

function whenWritable<T>(s: QueueState<T>, bytes: number): Promise<void> {
  if (s.failure) return Promise.reject(s.failure);
  if (s.ended) return Promise.reject(new ConnectError("stream closed", Code.Canceled));
  if (s.length === 0 || s.bytes + bytes <= s.maxBytes) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (s.writers === undefined) s.writers = [];
    s.writers.push({ bytes, resolve, reject });
  });
}

function settleWriters<T>(s: QueueState<T>): void {
  const writers = s.writers;
  if (writers === undefined) return;
  if (s.failure || s.ended) {
    const closedError = s.failure ?? new ConnectError("stream closed", Code.Canceled);
    s.writers = undefined;
    for (const w of writers) w.reject(closedError);
    return;
  }
  let kept = 0;
  for (const w of writers) {
    if (s.length === 0 || s.bytes + w.bytes <= s.maxBytes) w.resolve();
    else writers[kept++] = w;
  }
  if (kept === 0) s.writers = undefined;
  else writers.length = kept;
}

function fail<T>(s: QueueState<T>, error: ConnectError): void {
  if (s.failure || s.ended) return;
  s.failure = error;
  s.closed = true;
  clear(s);
  settleWriters(s);
  detach(s);
  const reject = s.waitingFail;
  s.waiting = undefined;
  s.waitingFail = undefined;
  reject?.(error);
  s.onFail?.(error);
}

function end<T>(s: QueueState<T>): void {
  if (s.ended || s.failure) return;
  s.ended = true;
  s.closed = true;
  s.ticker.delete(s);
  settleWriters(s);
  if (s.length > 0) return;
  detach(s);
  const resolve = s.waiting;
  s.waiting = undefined;
  s.waitingFail = undefined;
  resolve?.(done);
}

/** The consumer stopped iterating. */
function cleanup<T>(s: QueueState<T>): void {
  detach(s);
  if (!s.failure && !s.ended) {
    s.ended = true;
    s.closed = true;
    clear(s);
    settleWriters(s);
  }
}

function clear<T>(s: QueueState<T>): void {
  s.store = undefined;
  s.head = 0;
  s.length = 0;
  s.bytes = 0;
}

/** Stops listening to the call's end and the ticker: the stream is over for the queue. */
function detach<T>(s: QueueState<T>): void {
  if (s.detached) return;
  s.detached = true;
  s.ticker.delete(s);
}

function slowConsumer<T>(s: QueueState<T>): ConnectError {
  const positions = [...(s.delivered ?? [])]
    .map(([room, offset]) => `${room}=${offset}`)
    .join(", ");
  return new ConnectError(
    `slow consumer: more than ${s.maxBytes} bytes queued; last delivered offsets: ${positions || "none"}`,
    Code.ResourceExhausted,
  );
}
