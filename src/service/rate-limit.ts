/**
 * Per-user rate limits: a token bucket per key (the user id) that holds at
 * most `burst` tokens and refills at `ratePerSec`. Send and Chat send frames
 * take one token each; without one the call fails with ResourceExhausted and
 * a `retry-after-ms` hint (response header or trailer, and in the message),
 * which the SDK's `sendWithRetry` honours.
 *
 * Memory is bounded by the users active within one refill period: full
 * buckets are equivalent to absent ones and are dropped.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** Name of the header/trailer carrying the milliseconds to wait before retrying. */
export const retryAfterHeader = "retry-after-ms";

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens added per second. */
  readonly ratePerSec: number;
  /** Bucket size: how many calls may be made at once. */
  readonly burst: number;
  /** Clock in milliseconds; default `performance.now`. */
  readonly now?: () => number;
}

/** Token buckets keyed by user. */
export interface RateLimiter {
  /**
   * Takes one token from `key`'s bucket. Returns 0 when it was available,
   * otherwise the milliseconds until one will be (nothing is taken then).
   */
  take(key: string): number;
  /** Buckets currently held (not full). */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Creates a token-bucket rate limiter.
 *
 * @example
 * const limiter = createRateLimiter({ ratePerSec: 10, burst: 20 });
 * const waitMs = limiter.take(user.id); // 0: go ahead
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { ratePerSec, burst } = options;
  const now = options.now ?? (() => performance.now());
  const perMs = ratePerSec / 1000;
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();
  const refill = (bucket: Bucket, t: number) => {
    bucket.tokens = Math.min(burst, bucket.tokens + (t - bucket.at) * perMs);
    bucket.at = t;
  };
  const sweep = (t: number) => {
    // A bucket that refilled completely is the same as no bucket.
    if (t - lastSweep < burst / perMs) return;
    lastSweep = t;
    for (const [key, bucket] of buckets) {
      refill(bucket, t);
      if (bucket.tokens >= burst) buckets.delete(key);
    }
  };
  return {
    take(key) {
      const t = now();
      sweep(t);
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        bucket = { tokens: burst, at: t };
        buckets.set(key, bucket);
      } else {
        refill(bucket, t);
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs));
    },
    get size() {
      return buckets.size;
    },
  };
}

/**
 * Takes a send token for `userId`, or throws ResourceExhausted
 * ("rate limit: … retry after N ms") with the `retry-after-ms` metadata.
 *
 * @example
 * checkRate(limiter, user.id, { ratePerSec: 100, burst: 200 });
 */
export function checkRate(
  limiter: RateLimiter,
  userId: string,
  limits: { readonly ratePerSec: number; readonly burst: number },
): void {
  const waitMs = limiter.take(userId);
  if (waitMs === 0) return;
  throw new ConnectError(
    `rate limit: at most ${limits.ratePerSec} sends per second per user (burst ${limits.burst}); retry after ${waitMs} ms`,
    Code.ResourceExhausted,
    { [retryAfterHeader]: String(waitMs) },
  );
}
