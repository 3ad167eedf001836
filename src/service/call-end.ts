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
