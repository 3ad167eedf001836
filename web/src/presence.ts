/**
 * Presence over the Chat stream (through the WebSocket tunnel): joins every
 * open room so others see us, and reports who is in each room. The stream is
 * reopened with backoff when it fails (network drop, server restart), and
 * its `session` is also how messages are sent with an acknowledgement.
 *
 * @module
 */
import { createBackoff, sleep } from "../../src/client/backoff.js";
import type { ChatSession } from "../../src/client/chat-session.js";
import type { SwitchboardCore } from "../../src/client/core.js";
import type { User } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { PresenceKind } from "../../src/gen/switchboard/chat/v1/chat_pb.js";

/** Is the Chat stream up? */
export type PresenceStatus = "connecting" | "connected" | "unavailable";

/** Callbacks of {@link createPresence}. */
export interface PresenceHandlers {
  /** The full member list of a room, after a join or any change. */
  onMembers(room: string, members: readonly User[]): void;
  onStatus(status: PresenceStatus, error?: string): void;
}

/** A running presence connection. */
export interface Presence {
  /** Be present in exactly these rooms. */
  setRooms(rooms: readonly string[]): void;
  /** The open Chat session, when connected. */
  readonly session: ChatSession | undefined;
  /** True when `room` is joined on the open session. */
  joined(room: string): boolean;
  close(): void;
}

/** Failures in a row before the status says "unavailable" (it keeps retrying). */
const unavailableAfter = 2;

/**
 * Opens the Chat stream and keeps it open.
 *
 * @example
 * const presence = createPresence(api.stream, { onMembers, onStatus });
 * presence.setRooms(["general"]);
 */
export function createPresence(core: SwitchboardCore, handlers: PresenceHandlers): Presence {
  let rooms = new Set<string>();
  const members = new Map<string, Map<string, User>>();
  let joinedRooms = new Set<string>();
  let session: ChatSession | undefined;
  const closer = new AbortController();
  const backoff = createBackoff({ initialMs: 500, maxMs: 8_000 });

  const publish = (room: string) => {
    handlers.onMembers(room, [...(members.get(room)?.values() ?? [])]);
  };

  const join = (chat: ChatSession, room: string) => {
    chat.join(room, { kind: "latest" }).then(
      (joined) => {
        if (chat !== session) return;
        joinedRooms.add(room);
        members.set(room, new Map(joined.members.map((u) => [u.id, u])));
        publish(room);
      },
      () => {},
    );
  };

  const run = async () => {
    let failures = 0;
    while (!closer.signal.aborted) {
      const stream = new AbortController();
      const onClose = () => stream.abort();
      closer.signal.addEventListener("abort", onClose, { once: true });
      const chat = core.chat({ signal: stream.signal });
      session = chat;
      joinedRooms = new Set();
      for (const room of rooms) join(chat, room);
      let error = "chat stream ended";
      try {
        let first = true;
        for await (const ev of chat.events) {
          if (first) {
            first = false;
            failures = 0;
            backoff.reset();
            handlers.onStatus("connected");
          }
          if (ev.case === "presence") {
            const p = ev.value;
            const list = members.get(p.room) ?? new Map<string, User>();
            members.set(p.room, list);
            if (!p.user) continue;
            if (p.kind === PresenceKind.JOIN) list.set(p.user.id, p.user);
            else if (p.kind === PresenceKind.LEAVE) list.delete(p.user.id);
            publish(p.room);
          }
        }
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      } finally {
        closer.signal.removeEventListener("abort", onClose);
        stream.abort();
        session = undefined;
        joinedRooms = new Set();
      }
      if (closer.signal.aborted) return;
      failures++;
      handlers.onStatus(failures >= unavailableAfter ? "unavailable" : "connecting", error);
      try {
        await sleep(backoff.next(), closer.signal);
      } catch {
        return;
      }
    }
  };
  handlers.onStatus("connecting");
  void run();

  return {
    setRooms(next) {
      const wanted = new Set(next);
      const chat = session;
      for (const room of wanted) if (!rooms.has(room) && chat) join(chat, room);
      for (const room of rooms) {
        if (wanted.has(room)) continue;
        members.delete(room);
        joinedRooms.delete(room);
        chat?.leave(room).catch(() => {});
      }
      rooms = wanted;
    },
    get session() {
      return session;
    },
    joined: (room) => joinedRooms.has(room),
    close() {
      closer.abort();
    },
  };
}
