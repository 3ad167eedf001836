/**
 * Makes requests that cannot be decoded fail with InvalidArgument.
 *
 * protobuf-es rejects invalid UTF-8 in `string` fields while decoding, and
 * connect-es reports any request decoding failure as
 * `Code.Internal "parse binary: …"` — raised before a unary or
 * server-streaming handler (and even the interceptors of a unary call) run,
 * so no handler can catch it. The client sent a bad request, so the code must
 * be InvalidArgument.
 *
 * The only hook connect-es offers before decoding is the router's
 * `requestGate`. This gate watches the call's context: connect-es aborts it
 * with the decoding error just before writing the error to the wire, and the
 * gate rewrites that error in place to
 * `InvalidArgument "request: cannot decode message: …"`. Handlers that read
 * request streams (Upload, Chat) map the same error themselves (see
 * `toConnectError`), so without the gate only Send, History, Subscribe and
 * Download answer Internal.
 *
 * @module
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { onCallEnd } from "./call-end.js";
import { isRequestDecodeError } from "./errors.js";

/**
 * Request gate for the connect router (router option `requestGate`). Pass
 * `next` to chain another gate (for instance an auth check) after it.
 *
 * @example
 * connectNodeAdapter({ routes, interceptors, requestGate: createDecodeErrorGate() });
 * createRouterTransport(routes, { router: { requestGate: createDecodeErrorGate(authGate) } });
 */
export function createDecodeErrorGate(
  next?: (ctx: HandlerContext) => void | Promise<void>,
): (ctx: HandlerContext) => void | Promise<void> {
  return (ctx) => {
    onCallEnd(ctx, rewriteDecodeError);
    return next?.(ctx);
  };
}

/**
 * Rewrites, in place, a request-decoding error that `signal` is aborted with
 * into InvalidArgument. Exposed for servers that build their own gate.
 *
 * @example
 * watchDecodeErrors(ctx.signal);
 */
export function watchDecodeErrors(signal: AbortSignal): void {
  signal.addEventListener("abort", () => rewriteDecodeError(signal.reason), { once: true });
}

function rewriteDecodeError(reason: unknown): void {
  if (reason instanceof ConnectError && isRequestDecodeError(reason)) {
    rewriteAsInvalidArgument(reason);
  }
}

function rewriteAsInvalidArgument(err: ConnectError): void {
  const detail = err.rawMessage.replace(/^parse (binary|json)?:?\s*/, "");
  const rawMessage = `request: cannot decode message: ${detail}`;
  const writable = err as { code: Code; rawMessage: string; message: string };
  writable.code = Code.InvalidArgument;
  writable.rawMessage = rawMessage;
  writable.message = new ConnectError(rawMessage, Code.InvalidArgument).message;
}
