/**
 * Concurrent streaming calls per user. Subscribe, Chat, Upload and Download
 * each hold server resources for as long as they run, so one user (one
 * token, any number of connections) may have at most `maxPerUser` of them
 * open; the next one fails at once with `resource_exhausted`. Unary calls
 * are not counted (the unary timeout bounds them).
 *
 * The counts are also the server's `activeStreams` statistic.
 *
 * @module
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { kCallEnd } from "../../service/call-end.js";
import { kUser } from "../../service/context-values.js";
import { kStreamHooks } from "../fast/stream-hooks.js";
import { forMethodKinds } from "../interceptor-kinds.js";

/** The interceptor and its counters. */
export interface StreamLimiter {
  /** Put it in the interceptor list, after authentication has set `kUser`. */
  readonly interceptor: Interceptor;
  /** Streaming calls in progress, all users. */
  readonly activeStreams: number;
  /** Streaming calls in progress of one user. */
  streamsOf(userId: string): number;
}

/**
 * Creates the per-user stream limiter.
 *
 * @example
 * const limiter = createStreamLimiter(100);
 * connectNodeAdapter({ routes, interceptors: [limiter.interceptor] });
 */
export function createStreamLimiter(maxPerUser: number): StreamLimiter {
  const perUser = new Map<string, number>();
  let total = 0;

  const acquire = (userId: string): (() => void) => {
    const open = perUser.get(userId) ?? 0;
    if (open >= maxPerUser) {
      throw new ConnectError(
        `too many concurrent streams: at most ${maxPerUser} per user`,
        Code.ResourceExhausted,
      );
    }
    perUser.set(userId, open + 1);
    total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      total--;
      const left = (perUser.get(userId) ?? 1) - 1;
      if (left === 0) perUser.delete(userId);
      else perUser.set(userId, left);
    };
  };

  const interceptor: Interceptor = (next) => async (req) => {
    const user = req.contextValues.get(kUser);
    if (req.method.methodKind === "unary" || user === undefined) return next(req);
    const release = acquire(user.id);
    const onEnd = req.contextValues.get(kCallEnd);
    if (onEnd !== undefined && req.contextValues.get(kStreamHooks) !== undefined) {
      // The fast path runs call-end callbacks when the call ends, whatever
      // ends it (call-end.ts): no abort listener, no wrapper around the output.
      onEnd(release);
      try {
        return await next(req);
      } catch (e) {
        release();
        throw e;
      }
    }
    // The call is over when its signal aborts (connect aborts it at the end
    // of every call) or its output finishes, whichever comes first.
    req.signal.addEventListener("abort", release, { once: true });
    if (req.signal.aborted) release();
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (e) {
      release();
      throw e;
    }
    if (!res.stream) {
      release();
      return res;
    }
    const inner = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* inner;
        } finally {
          release();
        }
      })(),
    };
  };

  return {
    interceptor: forMethodKinds(
      ["server_streaming", "client_streaming", "bidi_streaming"],
      interceptor,
    ),
    get activeStreams() {
      return total;
    },
    streamsOf: (userId) => perUser.get(userId) ?? 0,
  };
}
