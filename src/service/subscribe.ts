/**
 * Subscribe (server streaming): replay each room from its requested position,
 * then continue live. Events: one `room_state` per room first, then
 * messages, and heartbeats while idle.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { AbortState } from "../backend/types.js";
import {
  type SubscribeRequest,
  type SubscribeResponse,
  SubscribeResponseSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { authorizeSubscribe, requireUser } from "./authorize.js";
import { callEnd } from "./call-end.js";
import type { ServiceDeps } from "./deps.js";
import { toConnectError } from "./errors.js";
import { createEventQueue, type EventQueue } from "./event-queue.js";
import { openRoomFeed, type RoomFeed, type RoomFeedSink } from "./room-feed.js";
import { cutOffSlowConsumer } from "./stream-control.js";
import { controlEventBytes, createMessageDeliveries, queueSink } from "./stream-events.js";
import { callTelemetry } from "./telemetry.js";
import { validateRoomPositions } from "./validate.js";

/** Subscribe's message events: one per delivery, shared by every Subscribe stream. */
const subscribeDeliveries = createMessageDeliveries((message) =>
  create(SubscribeResponseSchema, { event: { case: "message", value: message } }),
);

function subscribeHeartbeat(): SubscribeResponse {
  return create(SubscribeResponseSchema, {
    event: { case: "heartbeat", value: { time: timestampNow() } },
  });
}

/** The room feeds of one call. */
interface CallFeeds {
  list: RoomFeed[];
  /** Set once the call is over: feeds opened later are closed at once. */
  finished: boolean;
}

/**
 * Creates the Subscribe handler.
 *
 * Errors: InvalidArgument naming `rooms` / `rooms[i].room` (none, too many,
 * bad name, duplicate); PermissionDenied naming the room; ResourceExhausted
 * ("slow consumer: … last delivered offsets: room=offset, …") when the client
 * reads too slowly (a client that does not even read that error within
 * `limits.slowConsumerGraceMs` gets its stream reset, see stream-control.ts);
 * Canceled / DeadlineExceeded on cancel or deadline. When
 * the stream ends for any reason every fan-out subscription is closed.
 *
 * Every `message` event of one live delivery is the same SubscribeResponse
 * object on every stream, wrapping the same Message (see
 * `createMessageDeliveries` and `sharedMessage`): treat them as immutable.
 *
 * @example
 * const subscribe = createSubscribeHandler(deps);
 */
export function createSubscribeHandler(deps: ServiceDeps) {
  return async function* subscribe(
    req: SubscribeRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<SubscribeResponse> {
    const user = requireUser(ctx);
    validateRoomPositions(req.rooms, "rooms", deps.limits);
    for (const position of req.rooms) authorizeSubscribe(user, position.room);
    const telemetry = callTelemetry(ctx);
    const feeds: CallFeeds = { list: [], finished: false };
    // The call's end without its `ctx.signal`: on the fast path that would
    // be an AbortController per open stream (call-end.ts).
    const end = callEnd(ctx);
    // The queue fails when the call ends (cancel, deadline, end of the
    // call), so this also releases the feeds when the generator sits
    // suspended at a `yield` that nobody resumes.
    const queue = createEventQueue<SubscribeResponse>({
      maxBytes: deps.limits.maxQueueBytes,
      heartbeatMs: deps.limits.heartbeatIntervalMs,
      heartbeat: subscribeHeartbeat,
      end,
      onFail(error) {
        // Failed (e.g. slow consumer): stop receiving now, not when the client reads the error.
        release(feeds);
        cutOffSlowConsumer(ctx, error, deps.limits.slowConsumerGraceMs);
        telemetry.streamFailed(error);
      },
    });
    telemetry.watchQueue(queue, end.onEnd);
    const sink = queueSink(queue, subscribeDeliveries, telemetry);
    openFeeds(deps, req, end.state, feeds, queue, sink).catch((err: unknown) =>
      queue.fail(toConnectError(err, end.state)),
    );
    try {
      for await (const event of queue) yield event;
    } finally {
      release(feeds);
      queue.end();
    }
  };
}

/** Opens every requested room's feed, sends the room states, then starts the feeds. */
async function openFeeds(
  deps: ServiceDeps,
  req: SubscribeRequest,
  abort: AbortState,
  feeds: CallFeeds,
  queue: EventQueue<SubscribeResponse>,
  sink: RoomFeedSink,
): Promise<void> {
  const opened = await Promise.all(
    req.rooms.map(async (position) => {
      const feed = await openRoomFeed({ deps, position, sink, abort });
      if (feeds.finished) feed.close();
      else feeds.list.push(feed);
      return feed;
    }),
  );
  // The same feeds in an array of their exact size (the pushed one has room to grow).
  if (!feeds.finished) feeds.list = opened.slice();
  for (const feed of opened) {
    queue.push(
      create(SubscribeResponseSchema, { event: { case: "roomState", value: feed.state } }),
      { bytes: controlEventBytes },
    );
  }
  await Promise.all(opened.map((feed) => feed.start()));
}

function release(feeds: CallFeeds): void {
  feeds.finished = true;
  for (const feed of feeds.list) feed.close();
}
