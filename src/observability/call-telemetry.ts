/**
 * The {@link CallTelemetry} the service sees for one RPC: message counts,
 * file bytes, queue depth, and the delivery spans of subscriber streams,
 * each linked to the span of the Send that stored the message.
 *
 * @module
 */

import type { ConnectError } from "@connectrpc/connect";
import { type Context, type Link, type Span, SpanKind, type Tracer } from "@opentelemetry/api";
import type { StoredMessage } from "../backend/types.js";
import type { CallEndHook } from "../service/call-end.js";
import { type CallTelemetry, isSlowConsumerError, type QueueDepth } from "../service/telemetry.js";
import type { Metrics } from "./metrics.js";
import { formatTraceparent, parseTraceparent } from "./tracing.js";

/** Name of the span created when a message is handed to a subscriber stream. */
export const deliverySpanName = "switchboard.deliver";

/** The open stream queues of one server, summed for the queue-depth gauges. */
export interface QueueRegistry {
  /** Counts `queue` until `onEnd` reports the end of its call. */
  add(queue: QueueDepth, onEnd: CallEndHook): void;
  depth(): { messages: number; bytes: number };
}

/**
 * Creates the registry of open stream queues. A queue leaves it when its
 * call ends (at once if it already has).
 *
 * @example
 * const queues = createQueueRegistry();
 * metrics.setQueueDepthSource(() => queues.depth());
 */
export function createQueueRegistry(): QueueRegistry {
  const open = new Set<QueueDepth>();
  return {
    add(queue, onEnd) {
      open.add(queue);
      onEnd(() => open.delete(queue));
    },
    depth() {
      let messages = 0;
      let bytes = 0;
      for (const queue of open) {
        if (queue.closed) continue;
        messages += queue.length;
        bytes += queue.bytes;
      }
      return { messages, bytes };
    },
  };
}

/** What one call's telemetry reports to. */
export interface CallTelemetryOptions {
  readonly metrics: Metrics;
  readonly queues: QueueRegistry;
  /** RPC method name, e.g. "Subscribe" (the `method` label). */
  readonly method: string;
  /** The call's server span and the context holding it; undefined when not traced. */
  readonly trace?: { readonly span: Span; readonly context: Context; readonly tracer: Tracer };
}

/**
 * Creates the telemetry of one call.
 *
 * @example
 * ctx.values.set(kCallTelemetry, createCallTelemetry({ metrics, queues, method: "Send", trace }));
 */
export function createCallTelemetry(options: CallTelemetryOptions): CallTelemetry {
  return new RecordingCallTelemetry(options);
}

/**
 * The telemetry of one call: a class, so that each call holds one object
 * and its methods are shared (no closures per call: Subscribe streams keep
 * theirs for as long as they are open).
 */
class RecordingCallTelemetry implements CallTelemetry {
  readonly traceparent: string | undefined;
  private readonly metrics: Metrics;
  private readonly queues: QueueRegistry;
  private readonly method: string;
  private readonly trace: CallTelemetryOptions["trace"];

  constructor(options: CallTelemetryOptions) {
    this.metrics = options.metrics;
    this.queues = options.queues;
    this.method = options.method;
    this.trace = options.trace;
    this.traceparent = options.trace
      ? formatTraceparent(options.trace.span.spanContext())
      : undefined;
  }

  published(message: StoredMessage): void {
    this.metrics.messagesPublished.inc({ method: this.method });
    this.trace?.span.addEvent("message stored", messageAttributes(message));
  }

  delivered(message: StoredMessage, live: boolean): void {
    this.metrics.messagesDelivered.inc({ method: this.method, phase: live ? "live" : "replay" });
    if (live) this.metrics.deliveryLag.observe(Math.max(0, Date.now() - message.time) / 1000);
    const trace = this.trace;
    if (trace) startDeliverySpan(trace.tracer, trace.context, message, live).end();
  }

  transferred(direction: "upload" | "download", bytes: number): void {
    if (bytes <= 0) return;
    (direction === "upload" ? this.metrics.uploadBytes : this.metrics.downloadBytes).inc(bytes);
  }

  watchQueue(queue: QueueDepth, onEnd: CallEndHook): void {
    this.queues.add(queue, onEnd);
  }

  streamFailed(error: ConnectError): void {
    if (isSlowConsumerError(error))
      this.metrics.slowConsumerDisconnects.inc({ method: this.method });
  }
}

function messageAttributes(message: StoredMessage): Record<string, string | number> {
  return {
    "messaging.system": "switchboard",
    "messaging.destination.name": message.room,
    "messaging.message.id": message.id,
    "switchboard.message.offset": Number(message.offset),
    "switchboard.message.epoch": message.epoch,
  };
}

/**
 * Starts the delivery span of `message` under the subscriber call's context,
 * linked to the Send span recorded in `message.traceparent`.
 */
function startDeliverySpan(
  tracer: Tracer,
  parent: Context,
  message: StoredMessage,
  live: boolean,
): Span {
  const sendSpan = parseTraceparent(message.traceparent);
  const links: Link[] = sendSpan
    ? [{ context: sendSpan, attributes: { "switchboard.link": "send" } }]
    : [];
  return tracer.startSpan(
    deliverySpanName,
    {
      kind: SpanKind.CONSUMER,
      links,
      attributes: {
        ...messageAttributes(message),
        "messaging.operation.type": "process",
        "switchboard.delivery.phase": live ? "live" : "replay",
      },
    },
    parent,
  );
}
