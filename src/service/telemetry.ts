/**
 * What the service reports about a call, and the call's trace. The server
 * puts one {@link CallTelemetry} per call into the connect context values
 * under {@link kCallTelemetry}; without a server (in-memory tests) the
 * default does nothing. Metrics, spans and their exporters live in
 * `src/observability`, so the service stays free of them.
 *
 * @module
 */
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { StoredMessage } from "../backend/types.js";
import type { CallEndHook } from "./call-end.js";

/** The depth of one stream's output queue, read when metrics are scraped. */
export interface QueueDepth {
  /** Events queued and not yet written. */
  readonly length: number;
  /** Their estimated bytes. */
  readonly bytes: number;
  /** True once the stream ended. */
  readonly closed: boolean;
}

/** Reports of one RPC. Every method is cheap and never throws. */
export interface CallTelemetry {
  /**
   * W3C `traceparent` of the call's server span, to store with the messages
   * it sends (`AppendInput.traceparent`); undefined when not traced.
   */
  readonly traceparent: string | undefined;
  /** The call stored `message` (not an idempotent duplicate). */
  published(message: StoredMessage): void;
  /**
   * `message` was handed to this call's stream: live (just published) or
   * while replaying history. Creates the delivery span, linked to the span
   * of the Send that stored the message.
   */
  delivered(message: StoredMessage, live: boolean): void;
  /** File bytes received by Upload or sent by Download. */
  transferred(direction: "upload" | "download", bytes: number): void;
  /** Reports `queue`'s depth until `signal` aborts (the call ended). */
  watchQueue(queue: QueueDepth, onEnd: CallEndHook): void;
  /** The stream's output queue failed with `error` (counts slow-consumer disconnects). */
  streamFailed(error: ConnectError): void;
}

/** A {@link CallTelemetry} that records nothing. */
export const noCallTelemetry: CallTelemetry = Object.freeze({
  traceparent: undefined,
  published() {},
  delivered() {},
  transferred() {},
  watchQueue() {},
  streamFailed() {},
});

/** Context value holding the current call's {@link CallTelemetry}; {@link noCallTelemetry} by default. */
export const kCallTelemetry = createContextKey<CallTelemetry>(noCallTelemetry, {
  description: "switchboard call telemetry",
});

/**
 * The telemetry of the call `ctx` belongs to.
 *
 * @example
 * const telemetry = callTelemetry(ctx);
 */
export function callTelemetry(ctx: HandlerContext): CallTelemetry {
  return ctx.values.get(kCallTelemetry);
}

/** Prefix of every error message that ends a stream whose client reads too slowly. */
export const slowConsumerPrefix = "slow consumer:";

/**
 * Tells whether an error ended a stream because its client read too slowly
 * (ResourceExhausted "slow consumer: …", from the stream queue or a room
 * feed's replay buffer).
 *
 * @example
 * if (isSlowConsumerError(err)) metrics.slowConsumerDisconnects.inc();
 */
export function isSlowConsumerError(err: unknown): boolean {
  return (
    err instanceof ConnectError &&
    err.code === Code.ResourceExhausted &&
    err.rawMessage.startsWith(slowConsumerPrefix)
  );
}
