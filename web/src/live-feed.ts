/**
 * The live feed: one Subscribe stream (over fetch) for every open room,
 * resumed by the SDK after network drops and server restarts from each
 * room's last offset, and restarted from the same positions when rooms are
 * added or removed. It reports a connection state people can read.
 *
 * @module
 */
import { ConnectError } from "@connectrpc/connect";
import type { SwitchboardCore } from "../../src/client/core.js";
import type { RoomSubscription } from "../../src/client/subscribe.js";
import type { Message, RoomState } from "../../src/gen/switchboard/chat/v1/chat_pb.js";

/** What the person sees: is the app receiving messages right now? */
export type ConnectionState = "connecting" | "live" | "reconnecting" | "offline";

/** Callbacks of {@link createLiveFeed}. */
export interface LiveFeedHandlers {
  /** Where each room starts on the next (re)start, in the order given to `setRooms`. */
  positions(rooms: readonly string[]): RoomSubscription[];
  onState(state: RoomState, resumed: boolean): void;
  onMessage(message: Message): void;
  onConnection(state: ConnectionState, detail: { retryInMs?: number; error?: string }): void;
  /** The server refused for good (expired token, permission): the feed stopped. */
  onFatal(error: ConnectError): void;
}

/** A running live feed. */
export interface LiveFeed {
  /** Follows exactly these rooms (restarts the stream when the set changes). */
  setRooms(rooms: readonly string[]): void;
  /** Skips the backoff wait: reconnect now (e.g. the browser came back online). */
  reconnectNow(): void;
  close(): void;
}

/** Failed attempts in a row after which "reconnecting" becomes "offline". */
const offlineAfterAttempts = 3;

/**
 * Starts the feed (no rooms yet).
 *
 * @example
 * const feed = createLiveFeed(api.fetch, handlers); feed.setRooms(["general"]);
 */
export function createLiveFeed(core: SwitchboardCore, handlers: LiveFeedHandlers): LiveFeed {
  let rooms: string[] = [];
  let current: AbortController | undefined;
  let closed = false;
  let state: ConnectionState = "connecting";

  const report = (next: ConnectionState, detail: { retryInMs?: number; error?: string } = {}) => {
    if (next === state && next === "live") return;
    state = next;
    handlers.onConnection(next, detail);
  };

  const start = () => {
    current?.abort();
    current = undefined;
    if (closed || rooms.length === 0) return;
    const ac = new AbortController();
    current = ac;
    const subscriptions = handlers.positions(rooms);
    void (async () => {
      try {
        const events = core.subscribe(subscriptions, {
          signal: ac.signal,
          // Heartbeats come every 15 s by default: three missed ones mean a dead connection.
          idleTimeoutMs: 45_000,
          backoff: { initialMs: 250, maxMs: 5_000 },
        });
        for await (const ev of events) {
          if (ac.signal.aborted) return;
          switch (ev.type) {
            case "state":
              report("live");
              handlers.onState(ev.state, ev.resumed);
              break;
            case "message":
              report("live");
              handlers.onMessage(ev.message);
              break;
            case "heartbeat":
              report("live");
              break;
            case "reconnecting": {
              const offline = !navigator.onLine || ev.attempt >= offlineAfterAttempts;
              report(offline ? "offline" : "reconnecting", {
                retryInMs: ev.delayMs,
                error: ev.error.rawMessage,
              });
              break;
            }
          }
        }
      } catch (err) {
        if (ac.signal.aborted) return;
        // The SDK retries everything else: what reaches here is terminal.
        const error = ConnectError.from(err);
        report("offline", { error: error.rawMessage });
        handlers.onFatal(error);
      }
    })();
  };

  const onOnline = () => {
    if (state !== "live") start();
  };
  const onOffline = () => report("offline", { error: "the browser is offline" });
  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);

  return {
    setRooms(next) {
      const same = next.length === rooms.length && next.every((r, i) => r === rooms[i]);
      if (same && current) return;
      rooms = [...next];
      start();
    },
    reconnectNow() {
      start();
    },
    close() {
      closed = true;
      current?.abort();
      window.removeEventListener("online", onOnline);
      window.removeEventListener("offline", onOffline);
    },
  };
}
