/**
 * Subscribe (server streaming): replay each room from its requested position,
 * then continue live. Events: one `room_state` per room first, then
 * messages, and heartbeats while idle.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type SubscribeRequest,
  type SubscribeResponse,
  SubscribeResponseSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { authorizeSubscribe, requireUser } from "./authorize.js";
import type { ServiceDeps } from "./deps.js";
import { toConnectError } from "./errors.js";
import { openRoomFeed, type RoomFeed } from "./room-feed.js";
import { cutOffSlowConsumer } from "./stream-control.js";
import { controlEventBytes, createStreamQueue, queueSink } from "./stream-events.js";
import { callTelemetry } from "./telemetry.js";
import { validateRoomPositions } from "./validate.js";

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

    const feeds: RoomFeed[] = [];
    let finished = false;
    // The generator may sit suspended at a `yield` that nobody resumes after a
    // cancel, so release on the signal itself (it also fires when the call ends).
    const release = () => {
      finished = true;
      for (const feed of feeds) feed.close();
    };
    ctx.signal.addEventListener("abort", release, { once: true });
    const queue = createStreamQueue(
      deps,
      ctx.signal,
      (time) => create(SubscribeResponseSchema, { event: { case: "heartbeat", value: { time } } }),
      (error) => {
        // Failed (e.g. slow consumer): stop receiving now, not when the client reads the error.
        release();
        cutOffSlowConsumer(ctx, error, deps.limits.slowConsumerGraceMs);
        telemetry.streamFailed(error);
      },
    );
    telemetry.watchQueue(queue, ctx.signal);
    const sink = queueSink(
      queue,
      (message) => create(SubscribeResponseSchema, { event: { case: "message", value: message } }),
      telemetry,
    );

    const run = async () => {
      const opened = await Promise.all(
        req.rooms.map(async (position) => {
          const feed = await openRoomFeed({ deps, position, sink, signal: ctx.signal });
          if (finished) feed.close();
          else feeds.push(feed);
          return feed;
        }),
      );
      for (const feed of opened) {
        queue.push(
          create(SubscribeResponseSchema, { event: { case: "roomState", value: feed.state } }),
          { bytes: controlEventBytes },
        );
      }
      await Promise.all(opened.map((feed) => feed.start()));
    };
    run().catch((err: unknown) => queue.fail(toConnectError(err, ctx.signal)));

    try {
      for await (const event of queue) yield event;
    } finally {
      ctx.signal.removeEventListener("abort", release);
      release();
      queue.end();
    }
  };
}
