/**
 * In-process {@link Presence}, used by the memory and SQLite backends: who is
 * in which room of this process, with join/leave events.
 *
 * @module
 */
import { BackendClosedError } from "../errors.js";
import type { Presence, PresenceChange, PresenceHandle, UserRef } from "../types.js";

/** A {@link Presence} that lives in this process. */
export interface InProcessPresence extends Presence {
  /** Forgets everyone and closes all watchers; later calls reject. Idempotent. */
  close(): void;
}

interface Member {
  readonly user: UserRef;
  handles: number;
}

interface Watcher {
  readonly room: string;
  readonly listener: (change: PresenceChange) => void;
  open: boolean;
}

/**
 * Creates an in-process presence tracker. A user is listed while at least one
 * of their handles is open; watchers get "join" on the first handle and
 * "leave" on the last, in order. A watcher whose listener throws is closed.
 * `leave()` is idempotent and resolves quietly after the backend closed.
 *
 * @example
 * const presence = createInProcessPresence();
 * const handle = await presence.join("lobby", { id: "ada", name: "Ada" });
 * await presence.list("lobby"); // [{ id: "ada", name: "Ada" }]
 * await handle.leave();
 */
export function createInProcessPresence(): InProcessPresence {
  const rooms = new Map<string, Map<string, Member>>();
  const watchers = new Map<string, Set<Watcher>>();
  const pending: PresenceChange[] = [];
  let emitting = false;
  let closed = false;

  function unwatch(w: Watcher): void {
    if (!w.open) return;
    w.open = false;
    const set = watchers.get(w.room);
    set?.delete(w);
    if (set?.size === 0) watchers.delete(w.room);
  }

  function emit(change: PresenceChange): void {
    pending.push(change);
    if (emitting) return;
    emitting = true;
    try {
      for (let i = 0; i < pending.length; i++) {
        const c = pending[i]!;
        for (const w of [...(watchers.get(c.room) ?? [])]) {
          if (!w.open) continue;
          try {
            w.listener(c);
          } catch {
            unwatch(w);
          }
        }
      }
    } finally {
      pending.length = 0;
      emitting = false;
    }
  }

  function release(room: string, userId: string): void {
    const members = rooms.get(room);
    const member = members?.get(userId);
    if (!members || !member) return;
    member.handles--;
    if (member.handles > 0) return;
    members.delete(userId);
    if (members.size === 0) rooms.delete(room);
    emit(Object.freeze({ room, kind: "leave", user: member.user }));
  }

  return {
    async join(room, user): Promise<PresenceHandle> {
      if (closed) throw new BackendClosedError();
      let members = rooms.get(room);
      if (!members) {
        members = new Map();
        rooms.set(room, members);
      }
      const member = members.get(user.id);
      if (member) {
        member.handles++;
      } else {
        const frozen = Object.freeze({ id: user.id, name: user.name });
        members.set(user.id, { user: frozen, handles: 1 });
        emit(Object.freeze({ room, kind: "join", user: frozen }));
      }
      let left = false;
      return {
        async leave() {
          if (left || closed) return;
          left = true;
          release(room, user.id);
        },
      };
    },
    async list(room) {
      if (closed) throw new BackendClosedError();
      return [...(rooms.get(room)?.values() ?? [])].map((m) => m.user);
    },
    async watch(room, listener) {
      if (closed) throw new BackendClosedError();
      const w: Watcher = { room, listener, open: true };
      let set = watchers.get(room);
      if (!set) {
        set = new Set();
        watchers.set(room, set);
      }
      set.add(w);
      return { close: () => unwatch(w) };
    },
    close() {
      if (closed) return;
      closed = true;
      rooms.clear();
      for (const set of [...watchers.values()]) for (const w of [...set]) unwatch(w);
    },
  };
}
