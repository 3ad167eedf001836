/**
 * The Prometheus metrics of one server: every metric Switchboard exports,
 * in a registry of its own (so several servers in one process never share
 * counters), plus the process metrics of prom-client, collected once per
 * process.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `switchboard_rpc_handled_total` | counter | service, method, protocol, code |
 * | `switchboard_rpc_duration_seconds` | histogram | service, method, protocol |
 * | `switchboard_rpc_messages_received_total` | counter | service, method |
 * | `switchboard_rpc_messages_sent_total` | counter | service, method |
 * | `switchboard_active_streams` | gauge | service, method |
 * | `switchboard_messages_published_total` | counter | method |
 * | `switchboard_messages_delivered_total` | counter | method, phase (`live`, `replay`) |
 * | `switchboard_delivery_lag_seconds` | histogram | — (live deliveries: store → stream queue) |
 * | `switchboard_stream_queue_messages` | gauge | — (events queued in all subscriber streams) |
 * | `switchboard_stream_queue_bytes` | gauge | — |
 * | `switchboard_slow_consumer_disconnects_total` | counter | method |
 * | `switchboard_upload_bytes_total` | counter | — |
 * | `switchboard_download_bytes_total` | counter | — |
 * | `switchboard_auth_failures_total` | counter | reason |
 * | `switchboard_backend_operation_duration_seconds` | histogram | backend, operation |
 * | `switchboard_backend_events_total` | counter | backend, event (e.g. `nats_reconnect`) |
 *
 * @module
 */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { cacheCounterLabels, cacheHistogramLabels } from "./label-cache.js";

/** Latency buckets (seconds) fine enough for p50/p99 of unary calls, wide enough for streams. */
export const rpcDurationBuckets: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800,
];

/** Buckets (seconds) for backend operations: sub-millisecond SQLite writes to slow remote acks. */
export const backendDurationBuckets: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** Buckets (seconds) for the time from storing a message to queueing it for a subscriber. */
export const deliveryLagBuckets: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Sums the depth of the stream queues that are open at scrape time. */
export type QueueDepthSource = () => { messages: number; bytes: number };

/** Every metric of one server, and its exposition. */
export interface Metrics {
  readonly registry: Registry;
  readonly rpcHandled: Counter<"service" | "method" | "protocol" | "code">;
  readonly rpcDuration: Histogram<"service" | "method" | "protocol">;
  readonly rpcMessagesReceived: Counter<"service" | "method">;
  readonly rpcMessagesSent: Counter<"service" | "method">;
  readonly activeStreams: Gauge<"service" | "method">;
  readonly messagesPublished: Counter<"method">;
  readonly messagesDelivered: Counter<"method" | "phase">;
  readonly deliveryLag: Histogram<string>;
  readonly slowConsumerDisconnects: Counter<"method">;
  readonly uploadBytes: Counter<string>;
  readonly downloadBytes: Counter<string>;
  readonly authFailures: Counter<"reason">;
  readonly backendDuration: Histogram<"backend" | "operation">;
  readonly backendEvents: Counter<"backend" | "event">;
  /** Sets where the queue-depth gauges read from (one source per server). */
  setQueueDepthSource(source: QueueDepthSource): void;
  /** The Prometheus text exposition of this server's metrics and the process metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

let processRegistry: Registry | undefined;

/** The registry of prom-client's process metrics, created once per process. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Creates the metrics of one server.
 *
 * @example
 * const metrics = createMetrics();
 * metrics.rpcHandled.inc({ service: "switchboard.chat.v1.ChatService", method: "Send", protocol: "grpc", code: "ok" });
 * const { contentType, body } = await metrics.render();
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  let queueDepth: QueueDepthSource = () => ({ messages: 0, bytes: 0 });
  const metrics: Metrics = {
    registry,
    rpcHandled: cacheCounterLabels(
      new Counter({
        name: "switchboard_rpc_handled_total",
        help: "RPCs completed, by service, method, wire protocol and status code.",
        labelNames: ["service", "method", "protocol", "code"],
        registers,
      }),
    ),
    rpcDuration: cacheHistogramLabels(
      new Histogram({
        name: "switchboard_rpc_duration_seconds",
        help: "Time from request headers to the end of the response (streams: their whole life).",
        labelNames: ["service", "method", "protocol"],
        buckets: [...rpcDurationBuckets],
        registers,
      }),
    ),
    rpcMessagesReceived: cacheCounterLabels(
      new Counter({
        name: "switchboard_rpc_messages_received_total",
        help: "Request messages received on client and bidirectional streams.",
        labelNames: ["service", "method"],
        registers,
      }),
    ),
    rpcMessagesSent: cacheCounterLabels(
      new Counter({
        name: "switchboard_rpc_messages_sent_total",
        help: "Response messages sent on server and bidirectional streams (heartbeats included).",
        labelNames: ["service", "method"],
        registers,
      }),
    ),
    activeStreams: new Gauge({
      name: "switchboard_active_streams",
      help: "Streaming RPCs in progress, by service and method.",
      labelNames: ["service", "method"],
      registers,
    }),
    messagesPublished: cacheCounterLabels(
      new Counter({
        name: "switchboard_messages_published_total",
        help: "Messages stored by this server (idempotent duplicates excluded), by the RPC that sent them.",
        labelNames: ["method"],
        registers,
      }),
    ),
    messagesDelivered: cacheCounterLabels(
      new Counter({
        name: "switchboard_messages_delivered_total",
        help: "Messages handed to subscriber streams, by RPC and phase (replay of history or live).",
        labelNames: ["method", "phase"],
        registers,
      }),
    ),
    // Observed once per live delivery: the cache skips prom-client's per-call work.
    deliveryLag: cacheHistogramLabels(
      new Histogram({
        name: "switchboard_delivery_lag_seconds",
        help: "Fan-out lag: time from storing a message to queueing it on a live subscriber stream.",
        buckets: [...deliveryLagBuckets],
        registers,
      }),
    ),
    slowConsumerDisconnects: cacheCounterLabels(
      new Counter({
        name: "switchboard_slow_consumer_disconnects_total",
        help: "Streams ended with resource_exhausted because the client read too slowly.",
        labelNames: ["method"],
        registers,
      }),
    ),
    uploadBytes: new Counter({
      name: "switchboard_upload_bytes_total",
      help: "File bytes received by Upload.",
      registers,
    }),
    downloadBytes: new Counter({
      name: "switchboard_download_bytes_total",
      help: "File bytes sent by Download.",
      registers,
    }),
    authFailures: cacheCounterLabels(
      new Counter({
        name: "switchboard_auth_failures_total",
        help: "Calls rejected as unauthenticated, by reason (missing, invalid, expired, not_yet_valid).",
        labelNames: ["reason"],
        registers,
      }),
    ),
    backendDuration: cacheHistogramLabels(
      new Histogram({
        name: "switchboard_backend_operation_duration_seconds",
        help: "Backend operation latency (append = SQLite commit or JetStream publish ack).",
        labelNames: ["backend", "operation"],
        buckets: [...backendDurationBuckets],
        registers,
      }),
    ),
    backendEvents: cacheCounterLabels(
      new Counter({
        name: "switchboard_backend_events_total",
        help: "Backend events such as NATS reconnects (event nats_reconnect).",
        labelNames: ["backend", "event"],
        registers,
      }),
    ),
    setQueueDepthSource(source) {
      queueDepth = source;
    },
    async render() {
      const own = await registry.metrics();
      const process = await processMetrics().metrics();
      return { contentType: registry.contentType, body: `${own}\n${process}` };
    },
  };
  new Gauge({
    name: "switchboard_stream_queue_messages",
    help: "Fan-out queue depth: events queued for all open subscriber streams, not yet written.",
    registers,
    collect() {
      this.set(queueDepth().messages);
    },
  });
  new Gauge({
    name: "switchboard_stream_queue_bytes",
    help: "Estimated bytes queued for all open subscriber streams, not yet written.",
    registers,
    collect() {
      this.set(queueDepth().bytes);
    },
  });
  return metrics;
}
