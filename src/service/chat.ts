/**
 * Chat (bidirectional streaming): an interactive session. Client frames are
 * read and handled in order while server events (acks, errors, joined/left,
 * messages of joined rooms, presence, heartbeats) are written concurrently
 * from one bounded output queue.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type ChatRequest,
  type ChatResponse,
  ChatResponseSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { requireUser } from "./authorize.js";
import { callEnd } from "./call-end.js";
import { createChatSession } from "./chat-session.js";
import type { ServiceDeps } from "./deps.js";
import { toConnectError } from "./errors.js";
import { cutOffSlowConsumer } from "./stream-control.js";
import { createStreamQueue } from "./stream-events.js";
import { callTelemetry } from "./telemetry.js";

/**
 * Creates the Chat handler.
 *
 * The stream ends when the client half-closes (after the answers to its
 * frames are written), on cancel or deadline, or with ResourceExhausted when
 * the client reads too slowly. A request the server cannot decode ends it
 * with InvalidArgument. However it ends, every room feed, presence handle
 * and watcher of the stream is released.
 *
 * @example
 * const chat = createChatHandler(deps);
 */
export function createChatHandler(deps: ServiceDeps) {
  return async function* chat(
    requests: AsyncIterable<ChatRequest>,
    ctx: HandlerContext,
  ): AsyncGenerator<ChatResponse> {
    const user = requireUser(ctx);
    const telemetry = callTelemetry(ctx);
    let closeSession = () => {};
    const end = callEnd(ctx);
    const queue = createStreamQueue(
      deps,
      end,
      (time) => create(ChatResponseSchema, { event: { case: "heartbeat", value: { time } } }),
      (error) => {
        // Failed (e.g. slow consumer): release the rooms now, not when the client reads the error.
        closeSession();
        cutOffSlowConsumer(ctx, error, deps.limits.slowConsumerGraceMs);
        telemetry.streamFailed(error);
      },
    );
    telemetry.watchQueue(queue, end.onEnd);
    const session = createChatSession({ deps, user, queue, abort: end.state, telemetry });
    closeSession = () => session.close();
    if (queue.closed) session.close();
    // Release when the call ends too: after a cancel nobody may resume this generator.
    end.onEnd(() => session.close());
    const readFrames = async () => {
      for await (const req of requests) {
        if (queue.closed) return;
        await session.handle(req);
      }
      queue.end();
    };
    readFrames().catch((err: unknown) => queue.fail(toConnectError(err, end.state)));
    try {
      for await (const event of queue) yield event;
    } finally {
      session.close();
      queue.end();
    }
  };
}
