/**
 * In-process {@link FanOut}: delivers each published message synchronously to
 * the open subscriptions of its room. Used by the memory backend and, since
 * it only needs `publish(message)` from the log, by the SQLite backend too.
 *
 * @module
 */
import { BackendClosedError } from "../errors.js";
import type {
  FanOut,
  FanOutSubscribeOptions,
  FanOutSubscription,
  StoredMessage,
} from "../types.js";

/** A {@link FanOut} that is fed by its message log through `publish`. */
export interface InProcessFanOut extends FanOut {
  /**
   * Hands a stored message to every open subscription of its room. The log
   * calls it synchronously right after storing, in offset order per room.
   * A publish made from inside a listener is queued and delivered after the
   * current message, so every subscriber still sees offset order.
   */
  publish(message: StoredMessage): void;
  /**
   * Ends every open subscription with {@link BackendClosedError} (calling
   * each `onEnd`); later `subscribe` calls reject with it. Idempotent.
   */
  close(): void;
}

interface Subscription {
  readonly room: string;
  readonly listener: (message: StoredMessage) => void;
  readonly onEnd: ((reason: Error) => void) | undefined;
  open: boolean;
}

/**
 * Creates an in-process fan-out.
 *
 * @example
 * const fanout = createInProcessFanOut();
 * const sub = await fanout.subscribe("lobby", (m) => queue.push(m), { onEnd: (e) => queue.fail(e) });
 * fanout.publish(message); // queue now holds message if message.room === "lobby"
 * sub.close();
 */
export function createInProcessFanOut(): InProcessFanOut {
  const rooms = new Map<string, Set<Subscription>>();
  const pending: StoredMessage[] = [];
  let active = 0;
  let delivering = false;
  let closed = false;

  function remove(sub: Subscription): void {
    if (!sub.open) return;
    sub.open = false;
    active--;
    const set = rooms.get(sub.room);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) rooms.delete(sub.room);
  }

  /** Ends a subscription on the backend's side and reports it once. */
  function end(sub: Subscription, reason: Error): void {
    if (!sub.open) return;
    remove(sub);
    try {
      sub.onEnd?.(reason);
    } catch {
      // The contract says what onEnd throws is ignored.
    }
  }

  function deliver(message: StoredMessage): void {
    const set = rooms.get(message.room);
    if (!set) return;
    // A Set iterator skips subscriptions removed meanwhile and visits ones
    // added meanwhile (allowed: subscribers drop offsets they already have).
    for (const sub of set) {
      if (!sub.open) continue;
      try {
        sub.listener(message);
      } catch (err) {
        // A throwing listener is broken; the contract says it is closed.
        end(sub, err instanceof Error ? err : new Error("fan-out listener threw", { cause: err }));
      }
    }
  }

  return {
    get activeSubscriptions() {
      return active;
    },
    async subscribe(room, listener, options?: FanOutSubscribeOptions): Promise<FanOutSubscription> {
      if (closed) throw new BackendClosedError();
      // Registered synchronously, before the returned promise resolves.
      const sub: Subscription = { room, listener, onEnd: options?.onEnd, open: true };
      let set = rooms.get(room);
      if (!set) {
        set = new Set();
        rooms.set(room, set);
      }
      set.add(sub);
      active++;
      return {
        close() {
          remove(sub);
        },
      };
    },
    publish(message) {
      if (closed) return;
      pending.push(message);
      if (delivering) return;
      delivering = true;
      try {
        for (let i = 0; i < pending.length; i++) deliver(pending[i]!);
      } finally {
        pending.length = 0;
        delivering = false;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      const reason = new BackendClosedError();
      for (const set of [...rooms.values()]) for (const sub of [...set]) end(sub, reason);
    },
  };
}
