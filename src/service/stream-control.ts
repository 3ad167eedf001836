/**
 * Cutting off a slow consumer whose transport is stuck.
 *
 * A Subscribe or Chat stream whose client stops reading fills its bounded
 * queue and fails with ResourceExhausted ("slow consumer: … last delivered
 * offsets: …"). That error can only reach the client once it reads the data
 * already written (HTTP/2 flow control holds it back), so the handler may
 * stay blocked in a write. The client gets `limits.slowConsumerGraceMs` to
 * read it; then the server resets the stream (HTTP/2 RST_STREAM CANCEL; an
 * HTTP/1.1 connection is closed), which releases the call. The SDK resumes
 * either way.
 *
 * The server provides the reset through the {@link kTransportAbort} context
 * value, so the service stays free of `node:*`.
 *
 * @module
 */
import {
  Code,
  type ConnectError,
  createContextKey,
  type HandlerContext,
} from "@connectrpc/connect";
import { callAbortState, onCallEnd } from "./call-end.js";

/**
 * Context value set by the server: resets the call's transport stream (see
 * the module comment). `undefined` with in-memory transports.
 */
export const kTransportAbort = createContextKey<(() => void) | undefined>(undefined, {
  description: "switchboard transport abort",
});

/**
 * When `error` is a slow-consumer failure (ResourceExhausted), resets the
 * call's transport unless the call ends within `graceMs`.
 *
 * @example
 * createStreamQueue(deps, callEnd(ctx), heartbeat, (error) => cutOffSlowConsumer(ctx, error, 5000));
 */
export function cutOffSlowConsumer(
  ctx: HandlerContext,
  error: ConnectError,
  graceMs: number,
): void {
  if (error.code !== Code.ResourceExhausted || callAbortState(ctx).aborted) return;
  const abort = ctx.values.get(kTransportAbort);
  if (abort === undefined) return;
  const timer = setTimeout(abort, graceMs);
  onCallEnd(ctx, () => clearTimeout(timer));
}
