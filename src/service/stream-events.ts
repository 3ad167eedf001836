/**
 * Shared pieces of the streaming handlers (Subscribe, Chat): the output queue
 * sized from the limits, and a feed sink that turns stored messages into
 * stream events.
 *
 * @module
 */
import { type Timestamp, timestampNow } from "@bufbuild/protobuf/wkt";
import type { StoredMessage } from "../backend/types.js";
import type { Message } from "../gen/switchboard/chat/v1/chat_pb.js";
import { estimateMessageBytes, toMessage } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { createEventQueue, type EventQueue } from "./event-queue.js";
import type { RoomFeedSink } from "./room-feed.js";

/** Rough wire size of a small control event (state, ack, presence, error). */
export const controlEventBytes = 128;

/**
 * Creates the output queue of one stream with the service's limits.
 *
 * @example
 * const queue = createStreamQueue(deps, ctx.signal, (time) => ({ event: { case: "heartbeat", value: { time } } }));
 */
export function createStreamQueue<T>(
  deps: ServiceDeps,
  signal: AbortSignal,
  heartbeat: (time: Timestamp) => T,
): EventQueue<T> {
  return createEventQueue<T>({
    maxBytes: deps.limits.maxQueueBytes,
    heartbeatMs: deps.limits.heartbeatIntervalMs,
    heartbeat: () => heartbeat(timestampNow()),
    signal,
  });
}

/**
 * A room feed sink that pushes each message into `queue`, wrapped by `wrap`.
 *
 * @example
 * const sink = queueSink(queue, (message) => ({ event: { case: "message", value: message } }));
 */
export function queueSink<T>(queue: EventQueue<T>, wrap: (message: Message) => T): RoomFeedSink {
  return {
    message(message: StoredMessage) {
      queue.push(wrap(toMessage(message)), {
        bytes: estimateMessageBytes(message),
        room: message.room,
        offset: message.offset,
      });
    },
    whenWritable: (bytes) => queue.whenWritable(bytes),
    fail: (error) => queue.fail(error),
  };
}
