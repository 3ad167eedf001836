/**
 * Fast hooks of a server-streaming call on the fast path, for interceptors
 * that would otherwise wrap the response stream in an async generator of
 * their own (count each message, map the stream's errors, release
 * something when it ends) or link a second AbortSignal (drain).
 *
 * The fast path (stream-call.ts) puts {@link kStreamHooks} into the call's
 * context values; an interceptor that finds it registers plain callbacks
 * instead of wrapping `res.message`, and the fast path's writer calls them
 * for each message it takes from the implementation and for the error the
 * stream ends with. On the library path the key is absent and the
 * interceptors wrap as before — same counts, same errors, same order, just
 * no generator layer, closure set and promise chain per interceptor, per
 * stream and per message.
 *
 * Order: interceptors register after `next()` resolved, so the innermost
 * registers first; error mappers run in registration order, innermost
 * first, as the wrappers they replace would have run.
 *
 * @module
 */

import { createContextKey } from "@connectrpc/connect";

/** Callbacks of one streaming call; see the module comment. */
export interface StreamHooks {
  /** Calls `fn` with each response message, as the implementation yields it, before it is written. */
  onMessage(fn: (message: unknown) => void): void;
  /**
   * Maps the error the response stream ends with (thrown by the
   * implementation while streaming), as a `catch` around `yield*` would.
   */
  mapError(fn: (error: unknown) => unknown): void;
  /**
   * Ends the call now: aborts its context (handler signal, call-end
   * callbacks) with `reason`, which the implementation then ends with.
   */
  abort(reason: unknown): void;
}

/** Context value: the hooks of a fast-path streaming call; undefined elsewhere. */
export const kStreamHooks = createContextKey<StreamHooks | undefined>(undefined, {
  description: "switchboard stream hooks",
});
