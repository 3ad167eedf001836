/**
 * Shared pieces of the streaming handlers (Subscribe, Chat): the output queue
 * sized from the limits, the message events shared by every stream of a
 * delivery, and a feed sink that queues them.
 *
 * @module
 */
import { type Timestamp, timestampNow } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import type { StoredMessage } from "../backend/types.js";
import type { Message } from "../gen/switchboard/chat/v1/chat_pb.js";
import type { CallEnd } from "./call-end.js";
import { estimateMessageBytes, sharedMessage } from "./convert.js";
import type { ServiceDeps } from "./deps.js";
import { createEventQueue, type EventMeta, type EventQueue } from "./event-queue.js";
import type { RoomFeedSink } from "./room-feed.js";
import { type CallTelemetry, noCallTelemetry } from "./telemetry.js";

/** Rough wire size of a small control event (state, ack, presence, error). */
export const controlEventBytes = 128;

/**
 * Creates the output queue of one stream with the service's limits.
 * `onFail` runs once when the stream fails (see `EventQueueOptions.onFail`).
 *
 * @example
 * const queue = createStreamQueue(deps, callEnd(ctx), (time) => ({ event: { case: "heartbeat", value: { time } } }));
 */
export function createStreamQueue<T>(
  deps: ServiceDeps,
  end: CallEnd,
  makeHeartbeat: (time: Timestamp) => T,
  onFail?: (error: ConnectError) => void,
): EventQueue<T> {
  return createEventQueue<T>({
    maxBytes: deps.limits.maxQueueBytes,
    heartbeatMs: deps.limits.heartbeatIntervalMs,
    heartbeat() {
      return makeHeartbeat(timestampNow());
    },
    end,
    ...(onFail ? { onFail } : {}),
  });
}

/**
 * The stream event of one delivered message, with its queue accounting
 * (it is the `EventMeta` of the push, so queueing it allocates nothing).
 */
export interface MessageDelivery<T> extends EventMeta {
  /** The stream event; its message is {@link sharedMessage}'s Message. */
  readonly event: T;
  readonly bytes: number;
  readonly room: string;
  readonly offset: bigint;
}

/**
 * Makes the stream events of delivered messages for one kind of stream
 * (Subscribe, Chat), once per delivery: consecutive calls with the same
 * StoredMessage object return the same {@link MessageDelivery} (so the same
 * event object, wrapping the same Message, see {@link sharedMessage}), and
 * its size is estimated once. Create one per handler, not per stream.
 *
 * @example
 * const deliveries = createMessageDeliveries((message) => create(SubscribeResponseSchema, { event: { case: "message", value: message } }));
 * deliveries(stored).event; // the same object for every stream of this delivery
 */
export function createMessageDeliveries<T>(
  wrap: (message: Message) => T,
): (stored: StoredMessage) => MessageDelivery<T> {
  let last: MessageDelivery<T> | undefined;
  let lastStored: StoredMessage | undefined;
  return (stored) => {
    if (stored !== lastStored || last === undefined) {
      last = {
        event: wrap(sharedMessage(stored)),
        bytes: estimateMessageBytes(stored),
        room: stored.room,
        offset: stored.offset,
      };
      lastStored = stored;
    }
    return last;
  };
}

/**
 * A room feed sink that pushes each message's shared event (from
 * `deliveries`) into `queue`, and reports each queued message to
 * `telemetry` (delivery count and span).
 *
 * @example
 * const sink = queueSink(queue, subscribeDeliveries, telemetry);
 */
export function queueSink<T>(
  queue: EventQueue<T>,
  deliveries: (stored: StoredMessage) => MessageDelivery<T>,
  telemetry: CallTelemetry = noCallTelemetry,
): RoomFeedSink {
  return new QueueSink(queue, deliveries, telemetry);
}

/** {@link queueSink}'s sink: one object per stream, its methods shared. */
class QueueSink<T> implements RoomFeedSink {
  constructor(
    private readonly queue: EventQueue<T>,
    private readonly deliveries: (stored: StoredMessage) => MessageDelivery<T>,
    private readonly telemetry: CallTelemetry,
  ) {}

  message(message: StoredMessage, live: boolean): void {
    const delivery = this.deliveries(message);
    if (this.queue.push(delivery.event, delivery)) this.telemetry.delivered(message, live);
  }

  whenWritable(bytes: number): Promise<void> {
    return this.queue.whenWritable(bytes);
  }

  fail(error: ConnectError): void {
    this.queue.fail(error);
  }
}
