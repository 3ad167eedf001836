/**
 * The server's cap on unary calls. Clients' own deadlines (`grpc-timeout`,
 * `connect-timeout-ms`) are honoured by connect; this adds an upper bound the
 * server enforces whatever the client asked for.
 *
 * @module
 */

import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

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
  return (next) => async (req) => {
    if (req.stream || req.method.methodKind !== "unary") return next(req);
    const controller = new AbortController();
    const signal = controller.signal;
    const parent = req.signal;
    const onParentAbort = () => controller.abort(parent.reason);
    if (parent.aborted) onParentAbort();
    else parent.addEventListener("abort", onParentAbort, { once: true });
    const timer = setTimeout(() => {
      controller.abort(
        new ConnectError(`call exceeded the server limit of ${capMs} ms`, Code.DeadlineExceeded),
      );
    }, capMs);
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
      controller.abort(new ConnectError("call ended", Code.Canceled));
    }
  };
}
