/**
 * A background subscription for tests: the SDK's `subscribe` (with resume)
 * running in a loop that records every message, with a bounded wait on what
 * arrived.
 *
 * @module
 */
import type { SwitchboardCore } from "../../src/client/core.js";
import type { StartPosition } from "../../src/client/subscribe.js";
import type { Message } from "../../src/gen/switchboard/chat/v1/chat_pb.js";

/** A background subscription that records what it receives (see {@link followRoom}). */
export interface RoomFollower {
  /** Messages in arrival order. */
  readonly messages: readonly Message[];
  /** Reconnects the SDK made so far. */
  readonly reconnects: number;
  /** Resolves at the first RoomState (the subscription is live). */
  readonly ready: Promise<void>;
  /** Resolves once `done(messages)` holds; rejects after `timeoutMs` or when the subscription failed. */
  waitFor(
    done: (messages: readonly Message[]) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void>;
  /** Ends the subscription. */
  stop(): Promise<void>;
}

/**
 * Follows one room with the SDK's `subscribe` (resume after failures) in the
 * background and records every message.
 *
 * @example
 * const follower = followRoom(client, "lobby", { from: { kind: "beginning" } });
 * await follower.ready;
 * await follower.waitFor((m) => m.length === 10, 20_000, "10 messages");
 */
export function followRoom(
  client: Pick<SwitchboardCore, "subscribe">,
  room: string,
  opts: { from?: StartPosition; idleTimeoutMs?: number } = {},
): RoomFollower {
  const controller = new AbortController();
  const messages: Message[] = [];
  let reconnects = 0;
  let failure: unknown;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of listeners) l();
  };
  let markReady: () => void = () => {};
  let markFailed: (err: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  ready.catch(() => {});
  const loop = (async () => {
    try {
      for await (const ev of client.subscribe(
        [{ room, from: opts.from ?? { kind: "beginning" } }],
        {
          signal: controller.signal,
          backoff: { initialMs: 50, maxMs: 1000 },
          ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
        },
      )) {
        if (ev.type === "state") markReady();
        else if (ev.type === "message") messages.push(ev.message);
        else if (ev.type === "reconnecting") reconnects++;
        notify();
      }
    } catch (err) {
      failure = err;
      markFailed(err);
      notify();
    }
  })();
  return {
    messages,
    get reconnects() {
      return reconnects;
    },
    ready,
    waitFor(done, timeoutMs, what) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (done(messages)) finish();
          else if (failure !== undefined) finish(new Error(`subscription failed: ${failure}`));
        };
        const timer = setTimeout(
          () =>
            finish(
              new Error(
                `timed out after ${timeoutMs} ms waiting for ${what}; have ${messages.length} messages`,
              ),
            ),
          timeoutMs,
        );
        const finish = (err?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      controller.abort();
      await loop;
    },
  };
}
