/**
 * Subscribe with resume: a subscription that survives disconnects, server
 * restarts and "slow consumer" cut-offs, resuming each room after the last
 * delivered offset of its epoch so that nothing is missed or repeated.
 *
 * @module
 */

import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Message, RoomState } from "../gen/switchboard/chat/v1/chat_pb.js";
import { type BackoffOptions, createBackoff, sleep } from "./backoff.js";
import type { ChatClient } from "./chat-client.js";
import { isReconnectHint, isTerminalError } from "./errors.js";
import {
  acceptMessage,
  applyRoomState,
  createRoomCursor,
  cursorPosition,
  type StartPosition,
} from "./room-cursor.js";

export type { StartPosition } from "./room-cursor.js";

/** A room to follow and where to start. */
export interface RoomSubscription {
  readonly room: string;
  /** Default `{ kind: "latest" }`. */
  readonly from?: StartPosition;
}

/** One event of {@link subscribeWithResume}. */
export type SubscriptionEvent =
  /**
   * Where a room stands, once per room per connection. `resumed` is true on
   * reconnects. When `state.recovered` is false the history could not be
   * continued exactly (epoch changed or trimmed): reload instead of assuming
   * continuity.
   */
  | { readonly type: "state"; readonly state: RoomState; readonly resumed: boolean }
  /** A message, each offset at most once per epoch, in order per room. */
  | { readonly type: "message"; readonly message: Message }
  /** The server is alive but idle. */
  | { readonly type: "heartbeat"; readonly timeMs: number }
  /** The connection failed; the next attempt starts after `delayMs`. */
  | {
      readonly type: "reconnecting";
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: ConnectError;
    };

/** Options of {@link subscribeWithResume}. */
export interface SubscribeOptions {
  /** Ends the subscription (the iterator then finishes without error). */
  readonly signal?: AbortSignal;
  /** Reconnect delays. Default 100 ms doubling up to 5 s, jittered. */
  readonly backoff?: BackoffOptions;
  /** Consecutive failed attempts before giving up. Default: never give up. */
  readonly maxAttempts?: number;
  /**
   * Reconnect when no event (heartbeats included) arrived for this long.
   * Default: off (rely on the transport to notice dead connections).
   */
  readonly idleTimeoutMs?: number;
}

/**
 * Follows rooms, reconnecting with capped, jittered exponential backoff after
 * any failure except authentication, permission and invalid-argument errors
 * (which are thrown). When the server ends the stream with a resume hint
 * (`unavailable` with the `switchboard-resume-offsets` trailer: maximum
 * stream age, shutdown) it reconnects at once. Every reconnect asks each room for the messages after
 * the last one delivered, in the same epoch; messages are also de-duplicated
 * by offset, so the caller sees no gap and no duplicate. Breaking out of the
 * loop or aborting `signal` closes the stream.
 *
 * @example
 * for await (const ev of subscribeWithResume(client, [{ room: "general" }])) {
 *   if (ev.type === "message") console.log(ev.message.text);
 * }
 */
export async function* subscribeWithResume(
  client: ChatClient,
  rooms: readonly RoomSubscription[],
  options: SubscribeOptions = {},
): AsyncGenerator<SubscriptionEvent, void, undefined> {
  if (rooms.length === 0) throw new ConnectError("rooms: at least one room", Code.InvalidArgument);
  const cursors = new Map(
    rooms.map((r) => [r.room, createRoomCursor(r.room, r.from ?? { kind: "latest" })]),
  );
  const backoff = createBackoff({ initialMs: 100, maxMs: 5000, ...options.backoff });
  const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  const signal = options.signal;
  let connections = 0;
  let failures = 0;
  while (!signal?.aborted) {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      if (options.idleTimeoutMs === undefined) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(
        () => controller.abort(new ConnectError("subscription idle", Code.Unavailable)),
        options.idleTimeoutMs,
      );
    };
    const resumed = connections > 0;
    connections++;
    let failure: ConnectError;
    try {
      armIdle();
      const stream = client.subscribe(
        { rooms: [...cursors.values()].map(cursorPosition) },
        { signal: controller.signal },
      );
      for await (const res of stream) {
        armIdle();
        backoff.reset();
        failures = 0;
        const event = res.event;
        if (event.case === "roomState") {
          const cursor = cursors.get(event.value.room);
          if (cursor) applyRoomState(cursor, event.value);
          yield { type: "state", state: event.value, resumed };
        } else if (event.case === "message") {
          const cursor = cursors.get(event.value.room);
          if (cursor && !acceptMessage(cursor, event.value)) continue;
          yield { type: "message", message: event.value };
        } else if (event.case === "heartbeat") {
          const time = event.value.time;
          yield { type: "heartbeat", timeMs: time ? timestampMs(time) : Date.now() };
        }
      }
      failure = new ConnectError("subscription ended by the server", Code.Unavailable);
    } catch (err) {
      if (signal?.aborted) return;
      if (isTerminalError(err)) throw err;
      failure = ConnectError.from(err);
    } finally {
      clearTimeout(idleTimer);
      signal?.removeEventListener("abort", onAbort);
      controller.abort();
    }
    // The server ended the stream on purpose (maximum stream age, shutdown)
    // and asked for a reconnect: go again at once, with a little jitter so that
    // many subscribers do not arrive together. Not counted as a failure.
    const planned = isReconnectHint(failure) && failures === 0;
    if (!planned) failures++;
    if (failures >= maxAttempts) throw failure;
    const delayMs = planned ? Math.round(Math.random() * 50) : backoff.next();
    yield { type: "reconnecting", attempt: failures, delayMs, error: failure };
    try {
      await sleep(delayMs, signal);
    } catch {
      return;
    }
  }
}
