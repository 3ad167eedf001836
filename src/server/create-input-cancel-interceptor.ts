/**
 * Client cancellation made visible to streaming input.
 *
 * Node's HTTP/2 client cancels a call by first half-closing the stream
 * (END_STREAM) and then resetting it (RST_STREAM CANCEL); gRPC clients built
 * on it (connect-node, @grpc/grpc-js) do the same. The server sees a clean
 * end of input first and the reset a moment (usually well under a
 * millisecond) later, which is when connect aborts the handler's signal. A
 * client-streaming handler (Upload) would take "end of input" as "commit"
 * and store a partial upload from a cancelled call.
 *
 * @module
 */

import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { forMethodKinds } from "./interceptor-kinds.js";

/**
 * Creates an interceptor for client-streaming and bidi calls: when the input
 * ends, it waits up to `settleMs` (default 25) for the call's signal; if the
 * call is aborted in that window (reset, disconnect, shutdown) the input
 * throws the abort reason (e.g. `canceled`) instead of ending. The wait is a
 * bounded heuristic that costs at most `settleMs` once per call, at the end
 * of its input. Other calls pass through.
 *
 * @example
 * connectNodeAdapter({ routes, interceptors: [createInputCancelInterceptor()] });
 */
export function createInputCancelInterceptor(settleMs = 25): Interceptor {
  return forMethodKinds(["client_streaming", "bidi_streaming"], (next) => async (req) => {
    const kind = req.method.methodKind;
    if (!req.stream || (kind !== "client_streaming" && kind !== "bidi_streaming")) {
      return next(req);
    }
    const input = req.message;
    const signal = req.signal;
    async function* guarded() {
      yield* input;
      await settled(signal, settleMs);
      if (signal.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
    }
    return next({ ...req, message: guarded() });
  });
}

/** Resolves when `signal` aborts or after `ms`, whichever comes first. */
function settled(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
