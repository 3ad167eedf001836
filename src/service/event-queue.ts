/**
 * The output queue of one server stream (Subscribe, Chat): producers (room
 * feeds, presence watchers, request handlers) push events, the handler's
 * generator pulls them. It is bounded in bytes, ends on abort, and produces
 * heartbeats while idle.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { abortError } from "./errors.js";

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
  /** Idle time after which `heartbeat()` is yielded. */
  readonly heartbeatMs: number;
  /** Makes a heartbeat event. */
  readonly heartbeat: () => T;
  /** Ends the stream (with Canceled or DeadlineExceeded) when aborted. */
  readonly signal: AbortSignal;
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

interface Entry<T> {
  readonly event: T;
  readonly meta: EventMeta;
}

/**
 * Creates an {@link EventQueue}. Iterate it exactly once.
 *
 * @example
 * const queue = createEventQueue({ maxBytes: 1 << 20, heartbeatMs: 15_000, heartbeat: makeHb, signal: ctx.signal });
 * queue.push(event, { bytes: 100 });
 * for await (const event of queue) yield event;
 */
export function createEventQueue<T>(options: EventQueueOptions<T>): EventQueue<T> {
  const { maxBytes, heartbeatMs, signal } = options;
  const entries: Entry<T>[] = [];
  const delivered = new Map<string, bigint>();
  let queuedBytes = 0;
  let ended = false;
  let failure: ConnectError | undefined;
  let lastActivity = Date.now();
  // One pending consumer wake-up and any number of waiting producers.
  let wakeConsumer: (() => void) | undefined;
  let writers: { bytes: number; resolve: () => void; reject: (e: unknown) => void }[] = [];

  const wake = () => {
    const w = wakeConsumer;
    wakeConsumer = undefined;
    w?.();
  };
  const settleWriters = () => {
    if (failure || ended) {
      const closedError = failure ?? new ConnectError("stream closed", Code.Canceled);
      for (const w of writers) w.reject(closedError);
      writers = [];
      return;
    }
    writers = writers.filter((w) => {
      if (entries.length === 0 || queuedBytes + w.bytes <= maxBytes) {
        w.resolve();
        return false;
      }
      return true;
    });
  };
  const fail = (error: ConnectError) => {
    if (failure || ended) return;
    failure = error;
    entries.length = 0;
    queuedBytes = 0;
    settleWriters();
    wake();
    options.onFail?.(error);
  };
  const onAbort = () => fail(abortError(signal));
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });

  const slowConsumer = (): ConnectError => {
    const positions = [...delivered].map(([room, offset]) => `${room}=${offset}`).join(", ");
    return new ConnectError(
      `slow consumer: more than ${maxBytes} bytes queued; last delivered offsets: ${positions || "none"}`,
      Code.ResourceExhausted,
    );
  };

  async function next(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      if (failure) {
        signal.removeEventListener("abort", onAbort);
        throw failure;
      }
      const entry = entries.shift();
      if (entry) {
        queuedBytes -= entry.meta.bytes;
        if (entry.meta.room !== undefined && entry.meta.offset !== undefined) {
          delivered.set(entry.meta.room, entry.meta.offset);
        }
        lastActivity = Date.now();
        settleWriters();
        return { done: false, value: entry.event };
      }
      if (ended) {
        signal.removeEventListener("abort", onAbort);
        return { done: true, value: undefined };
      }
      const idleFor = Date.now() - lastActivity;
      if (idleFor >= heartbeatMs) {
        lastActivity = Date.now();
        return { done: false, value: options.heartbeat() };
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wakeConsumer = resolve;
        timer = setTimeout(resolve, heartbeatMs - idleFor);
      });
      clearTimeout(timer);
      wakeConsumer = undefined;
    }
  }

  const cleanup = () => {
    signal.removeEventListener("abort", onAbort);
    if (!failure && !ended) {
      ended = true;
      entries.length = 0;
      queuedBytes = 0;
      settleWriters();
    }
  };

  return {
    get length() {
      return entries.length;
    },
    get bytes() {
      return queuedBytes;
    },
    get closed() {
      return ended || failure !== undefined;
    },
    push(event, meta) {
      if (ended || failure) return false;
      if (queuedBytes + meta.bytes > maxBytes && entries.length > 0) {
        fail(slowConsumer());
        return false;
      }
      entries.push({ event, meta });
      queuedBytes += meta.bytes;
      wake();
      return true;
    },
    whenWritable(bytes) {
      if (failure) return Promise.reject(failure);
      if (ended) return Promise.reject(new ConnectError("stream closed", Code.Canceled));
      if (entries.length === 0 || queuedBytes + bytes <= maxBytes) return Promise.resolve();
      return new Promise((resolve, reject) => {
        writers.push({ bytes, resolve, reject });
      });
    },
    fail,
    end() {
      if (ended || failure) return;
      ended = true;
      settleWriters();
      wake();
    },
    [Symbol.asyncIterator]() {
      return {
        next,
        async return() {
          cleanup();
          return { done: true, value: undefined };
        },
        async throw(e: unknown) {
          cleanup();
          throw e;
        },
      };
    },
  };
}
