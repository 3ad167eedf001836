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
  if (hook !== undefined) hook(fn);
  else signalEndHook(ctx.signal)(fn);
}

/**
 * A {@link CallEndHook} on an `AbortSignal`: an `abort` listener per
 * callback (the callback runs at once if the signal already aborted).
 *
 * @example
 * queues.add(queue, signalEndHook(controller.signal));
 */
export function signalEndHook(signal: AbortSignal): CallEndHook {
  return (fn) => {
    if (signal.aborted) fn(signal.reason);
    else signal.addEventListener("abort", () => fn(signal.reason), { once: true });
  };
}

/**
 * A call's end, for the parts of a streaming call that live as long as it
 * (its output queue, the queue-depth gauge, room feeds): whether and why it
 * ended, and a hook run when it ends. On the fast path neither creates an
 * `AbortController`.
 */
export interface CallEnd {
  /** Whether (and why) the call was cancelled or ended. */
  readonly state: AbortState;
  /** Runs a callback once, with the reason, when the call ends. */
  readonly onEnd: CallEndHook;
}

/**
 * The {@link CallEnd} of the call `ctx` belongs to: the transport's
 * {@link kAbortState} and {@link kCallEnd} when it provides them, else
 * `ctx.signal`.
 *
 * @example
 * const queue = createEventQueue({ …, end: callEnd(ctx) });
 */
export function callEnd(ctx: HandlerContext): CallEnd {
  const onEnd = ctx.values.get(kCallEnd);
  const state = ctx.values.get(kAbortState);
  if (onEnd !== undefined && state !== undefined) return { state, onEnd };
  return signalCallEnd(ctx.signal);
}

/**
 * The {@link CallEnd} of an `AbortSignal`.
 *
 * @example
 * const queue = createEventQueue({ …, end: signalCallEnd(controller.signal) });
 */
export function signalCallEnd(signal: AbortSignal): CallEnd {
  return { state: signal, onEnd: signalEndHook(signal) };
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
