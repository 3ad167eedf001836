/**
 * The server's cap on unary calls. Clients' own deadlines (`grpc-timeout`,
 * `connect-timeout-ms`) are honoured by connect; this adds an upper bound the
 * server enforces whatever the client asked for.
 *
 * @module
 */

import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { forMethodKinds } from "./interceptor-kinds.js";

/**
 * Context value set by a transport that enforces the cap itself (the fast
 * path, fast/call-context.ts): it aborts the call's signal with `reason()`
 * after `capMs` and answers the caller at that moment even if the handler
 * ignores its signal — exactly what this interceptor does otherwise, without
 * a second AbortController, timer and race per call.
 */
export const kUnaryCap = createContextKey<
  ((capMs: number, reason: () => ConnectError) => void) | undefined
>(undefined, { description: "switchboard unary cap" });

/** The reason a call's signal carries once the call is over (one shared, frozen error). */
const callEnded = Object.freeze(new ConnectError("call ended", Code.Canceled));

/**
 * Creates an interceptor that gives every unary call at most `capMs`
 * milliseconds. The handler receives a `ctx.signal` that aborts at the cap
 * (or earlier, with the client's deadline or disconnect), so backend calls
 * given that signal stop; the caller gets `deadline_exceeded` at the cap
 * even if the handler ignores its signal. Streaming calls pass through.
 *
 * @example
 * connectNodeAdapter({ routes, interceptors: [createUnaryTimeoutInterceptor(30_000)] });
 */
export function createUnaryTimeoutInterceptor(capMs: number): Interceptor {
  const overCap = () =>
    new ConnectError(`call exceeded the server limit of ${capMs} ms`, Code.DeadlineExceeded);
  return forMethodKinds(["unary"], (next) => async (req) => {
    if (req.stream || req.method.methodKind !== "unary") return next(req);
    const arm = req.contextValues.get(kUnaryCap);
    if (arm !== undefined) {
      arm(capMs, overCap);
      return next(req);
    }
    const controller = new AbortController();
    const signal = controller.signal;
    const parent = req.signal;
    const onParentAbort = () => controller.abort(parent.reason);
    if (parent.aborted) onParentAbort();
    else parent.addEventListener("abort", onParentAbort, { once: true });
    const timer = setTimeout(() => controller.abort(overCap()), capMs);
    const aborted = new Promise<never>((_, reject) => {
      const fail = () => reject(ConnectError.from(signal.reason, Code.Canceled));
      if (signal.aborted) fail();
      else signal.addEventListener("abort", fail, { once: true });
    });
    aborted.catch(() => {});
    try {
      return await Promise.race([next({ ...req, signal }), aborted]);
    } finally {
      clearTimeout(timer);
      parent.removeEventListener("abort", onParentAbort);
      // Work still running after the call ended (a handler that ignored its
      // signal) sees the call as over.
      controller.abort(callEnded);
    }
  });
}
