/**
 * Shared pieces of the streaming handlers (Subscribe, Chat): the output queue
 * sized from the limits, and a feed sink that turns stored messages into
 * stream events.
 *
 * @module
 */
import { type Timestamp, timestampNow } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import type { StoredMessage } from "../backend/types.js";
import type { Message } from "../gen/switchboard/chat/v1/chat_pb.js";
import { estimateMessageBytes, toMessage } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { createEventQueue, type EventQueue } from "./event-queue.js";
import type { RoomFeedSink } from "./room-feed.js";
import { type CallTelemetry, noCallTelemetry } from "./telemetry.js";

/** Rough wire size of a small control event (state, ack, presence, error). */
export const controlEventBytes = 128;

/**
 * Creates the output queue of one stream with the service's limits.
 * `onFail` runs once when the stream fails (see `EventQueueOptions.onFail`).
 *
 * @example
 * const queue = createStreamQueue(deps, ctx.signal, (time) => ({ event: { case: "heartbeat", value: { time } } }));
 */
export function createStreamQueue<T>(
  deps: ServiceDeps,
  signal: AbortSignal,
  heartbeat: (time: Timestamp) => T,
  onFail?: (error: ConnectError) => void,
): EventQueue<T> {
  return createEventQueue<T>({
    maxBytes: deps.limits.maxQueueBytes,
    heartbeatMs: deps.limits.heartbeatIntervalMs,
    heartbeat: () => heartbeat(timestampNow()),
    signal,
    ...(onFail ? { onFail } : {}),
  });
}

/**
 * A room feed sink that pushes each message into `queue`, wrapped by `wrap`,
 * and reports each queued message to `telemetry` (delivery count and span).
 *
 * @example
 * const sink = queueSink(queue, (message) => ({ event: { case: "message", value: message } }), telemetry);
 */
export function queueSink<T>(
  queue: EventQueue<T>,
  wrap: (message: Message) => T,
  telemetry: CallTelemetry = noCallTelemetry,
): RoomFeedSink {
  return {
    message(message: StoredMessage, live = true) {
      const queued = queue.push(wrap(toMessage(message)), {
        bytes: estimateMessageBytes(message),
        room: message.room,
        offset: message.offset,
      });
      if (queued) telemetry.delivered(message, live);
    },
    whenWritable: (bytes) => queue.whenWritable(bytes),
    fail: (error) => queue.fail(error),
  };
}
