/**
 * Exponential backoff with full jitter and an abortable sleep.
 *
 * @module
 */

/** Settings of {@link createBackoff}. */
export interface BackoffOptions {
  /** First delay, before jitter. Default 100 ms. */
  readonly initialMs?: number;
  /** Largest delay. Default 5000 ms. */
  readonly maxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Fraction of each delay that is randomized (0..1). Default 0.5. */
  readonly jitter?: number;
}

/** A stateful backoff schedule. */
export interface Backoff {
  /** Delay for the next attempt, growing until `maxMs`. */
  next(): number;
  /** Starts over from `initialMs` (call after a success). */
  reset(): void;
  /** Attempts since the last reset. */
  readonly attempt: number;
}

/**
 * Creates an exponential, capped, jittered backoff schedule.
 *
 * @example
 * const backoff = createBackoff({ initialMs: 50, maxMs: 2000 });
 * await sleep(backoff.next(), signal);
 */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? 100;
  const maxMs = options.maxMs ?? 5000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  let attempt = 0;
  return {
    next() {
      const base = Math.min(maxMs, initialMs * factor ** attempt);
      attempt++;
      return Math.round(base * (1 - jitter) + base * jitter * Math.random());
    },
    reset() {
      attempt = 0;
    },
    get attempt() {
      return attempt;
    },
  };
}

/**
 * Resolves after `ms`, or rejects with the signal's reason once it aborts.
 *
 * @example
 * await sleep(250, controller.signal);
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
