/**
 * How a fast-path call learns that its client went away, as connect-node's
 * adapter does it: an HTTP/2 request's "close" — or, for a stream the fast
 * path took, the stream's own, which node's request re-emits — with the
 * reset code mapped by reset-error.ts; an HTTP/1.1 response's "close" (node
 * emits the request's "close" as soon as its body is read).
 *
 * @module
 */

import { type FastRequest, type FastResponse, h2StreamOf } from "./h2-stream-response.js";
import { resetError } from "./reset-error.js";

/**
 * Calls `abort` when the client resets or closes before the call is over;
 * returns the function that stops watching.
 *
 * @example
 * const unwatch = onRequestClose(req, res, ctx.abort);
 */
export function onRequestClose(
  req: FastRequest,
  res: FastResponse,
  abort: (reason?: unknown) => void,
): () => void {
  const stream = h2StreamOf(req);
  if (stream !== undefined) {
    const onClose = () => {
      const reason = resetError(stream.rstCode ?? 0);
      abort(reason ?? new DOMException("This operation was aborted", "AbortError"));
    };
    // `on`, not `once`: "close" comes once, and `once` would add a bound
    // wrapper and its state object per call (open streams keep them).
    req.on("close", onClose);
    return () => req.off("close", onClose);
  }
  const onClose = () => abort(new DOMException("This operation was aborted", "AbortError"));
  res.on("close", onClose);
  return () => res.off("close", onClose);
}
