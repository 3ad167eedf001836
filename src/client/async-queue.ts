/**
 * A minimal unbounded push queue that is consumed as an AsyncIterable. Used to
 * feed client-streaming requests and to hand events to callers.
 *
 * @module
 */

/** A queue of values read by exactly one `for await` loop. */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  /** Adds a value; ignored once the queue is ended. */
  push(value: T): void;
  /** Ends the queue: readers finish after draining, or throw `error` when given. */
  end(error?: unknown): void;
  /** True once `end` was called. */
  readonly ended: boolean;
}

/**
 * Creates an {@link AsyncQueue}.
 *
 * @example
 * const q = createAsyncQueue<number>();
 * q.push(1); q.end();
 * for await (const n of q) console.log(n);
 */
export function createAsyncQueue<T>(): AsyncQueue<T> {
  const buffer: T[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(value) {
      if (ended) return;
      buffer.push(value);
      notify();
    },
    end(error) {
      if (ended) return;
      ended = true;
      if (error !== undefined) failure = { error };
      notify();
    },
    get ended() {
      return ended;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (buffer.length > 0) {
          yield buffer.shift() as T;
          continue;
        }
        if (ended) {
          if (failure) throw failure.error;
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
