/**
 * "Tell me when this call ends": a plain callback instead of an abort
 * listener on the call's signal. A transport that owns the call (the
 * server's fast path, src/server/fast/) puts {@link kCallEnd} into the
 * call's context values and runs the callbacks when it aborts the call's
 * signal, with the same reason; elsewhere {@link onCallEnd} falls back to
 * an `abort` listener. Same timing, same reason — just no EventTarget
 * listener per call and per observer.
 *
 * @module
 */

import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { AbortState } from "../backend/types.js";

/** Registers a callback run once, with the abort reason, when the call's signal aborts. */
export type CallEndHook = (fn: (reason: unknown) => void) => void;

/** Context value: the call's end hook, set by transports that provide one. */
export const kCallEnd = createContextKey<CallEndHook | undefined>(undefined, {
  description: "switchboard call end hook",
});

/**
 * Runs `fn(reason)` once when the call's signal aborts (at once if it
 * already has).
 *
 * @example
 * onCallEnd(ctx, (reason) => finish(reason));
 */
export function onCallEnd(ctx: HandlerContext, fn: (reason: unknown) => void): void {
  const hook = ctx.values.get(kCallEnd);
  if (hook !== undefined) {
    hook(fn);
    return;
  }
  const signal = ctx.signal;
  if (signal.aborted) {
    fn(signal.reason);
    return;
  }
  signal.addEventListener("abort", () => fn(signal.reason), { once: true });
}

/**
 * Context value: the call's abort state without an `AbortSignal`, set by
 * transports that track it themselves (the fast path's call context).
 */
export const kAbortState = createContextKey<AbortState | undefined>(undefined, {
  description: "switchboard call abort state",
});

/**
 * Whether (and why) the call was cancelled, for work that only checks it
 * (a backend write, an error mapping): the transport's {@link kAbortState}
 * when there is one, else `ctx.signal`. Reading `ctx.signal` on the fast path
 * creates an `AbortController` for the call.
 *
 * @example
 * await deps.backend.log.append(input, callAbortState(ctx));
 */
export function callAbortState(ctx: HandlerContext): AbortState {
  return ctx.values.get(kAbortState) ?? ctx.signal;
}
