/**
 * JetStream KV {@link Presence}: bucket `<prefix>_presence` whose `max_age`
 * is the presence TTL. A user present on a node is the key
 * `<room>.<user>.<node>` (tokens base64url-encoded), written on the first
 * local join, re-written by the node every TTL/3 and deleted on the last
 * local leave. A node that dies stops refreshing, so its keys expire within
 * the TTL (nats-server 2.9 has no per-key TTL; the bucket's max_age expires
 * each key TTL after its last write).
 *
 * A user is present while any of their keys exists (any node). `list()`
 * reads the last value of each key of the room; `watch()` shares one
 * consumer per room per node and turns key changes into per-user join/leave.
 * Expiries are not announced by the server, so a watch also drops keys not
 * refreshed within the TTL. `join()` and `leave()` resolve once this node's
 * watchers of the room have seen the change.
 *
 * @module
 */
import { DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers } from "@nats-io/transport-node";
import { BackendClosedError } from "../errors.js";
import type { Presence, PresenceChange, PresenceHandle, UserRef } from "../types.js";
import type { JetStreamConnection } from "./connection.js";
import { openCursor } from "./cursor.js";
import { subjectToken } from "./options.js";

/** The presence with the hook the backend needs at close. */
export interface JetStreamPresence extends Presence {
  /** Stops refreshing, deletes this node's keys (best effort) and closes watchers. */
  close(): Promise<void>;
}

/** Options of {@link createJetStreamPresence}. */
export interface JetStreamPresenceOptions {
  readonly conn: JetStreamConnection;
  readonly kv: KV;
  /** Bucket name (stream `KV_<bucket>`). */
  readonly bucket: string;
  readonly ttlMs: number;
  /** Upper bound of a listing's fetch. */
  readonly requestTimeoutMs: number;
}

interface LocalKey {
  readonly key: string;
  readonly room: string;
  readonly user: UserRef;
  handles: number;
}

interface KeyState {
  readonly user: UserRef;
  seen: number;
}

interface RoomWatch {
  readonly room: string;
  readonly listeners: Set<(change: PresenceChange) => void>;
  readonly keys: Map<string, KeyState>;
  readonly users: Map<string, number>;
  lastSeq: number;
  ready: Promise<void>;
  stopped: boolean;
  stop(): void;
  waiters: { seq: number; resolve: () => void }[];
}

const syncWaitMs = 2000;

/**
 * Creates the presence tracker of one node.
 *
 * @example
 * const presence = createJetStreamPresence({ conn, kv, bucket: "switchboard_presence", ttlMs: 15_000 });
 * const handle = await presence.join("lobby", { id: "ada", name: "Ada" });
 */
export function createJetStreamPresence(options: JetStreamPresenceOptions): JetStreamPresence {
  const { conn, kv, bucket, ttlMs } = options;
  const stream = `KV_${bucket}`;
  const local = new Map<string, LocalKey>();
  const watches = new Map<string, RoomWatch>();
  let closed = false;

  const roomFilter = (room: string) => `$KV.${bucket}.${subjectToken(room)}.>`;
  const keyOf = (room: string, userId: string) =>
    `${subjectToken(room)}.${subjectToken(userId)}.${conn.nodeId}`;

  function emit(w: RoomWatch, kind: "join" | "leave", user: UserRef): void {
    const change = Object.freeze({ room: w.room, kind, user });
    for (const listener of [...w.listeners]) {
      try {
        listener(change);
      } catch {
        w.listeners.delete(listener);
      }
    }
  }

  function dropKey(w: RoomWatch, key: string, silent: boolean): void {
    const state = w.keys.get(key);
    if (!state) return;
    w.keys.delete(key);
    const n = (w.users.get(state.user.id) ?? 1) - 1;
    if (n > 0) {
      w.users.set(state.user.id, n);
      return;
    }
    w.users.delete(state.user.id);
    if (!silent) emit(w, "leave", state.user);
  }

  function apply(w: RoomWatch, m: JsMsg, silent: boolean): void {
    if (m.seq <= w.lastSeq) return;
    w.lastSeq = m.seq;
    const key = m.subject.slice(`$KV.${bucket}.`.length);
    const op = m.headers?.get("KV-Operation") ?? "";
    const seen = Math.floor(m.info.timestampNanos / 1e6);
    if (op === "DEL" || op === "PURGE" || seen + ttlMs < Date.now()) {
      dropKey(w, key, silent);
    } else {
      const existing = w.keys.get(key);
      if (existing) {
        existing.seen = seen;
      } else {
        let user: UserRef;
        try {
          const v = m.json<UserRef>();
          user = Object.freeze({ id: String(v.id), name: String(v.name) });
        } catch {
          return;
        }
        w.keys.set(key, { user, seen });
        const n = (w.users.get(user.id) ?? 0) + 1;
        w.users.set(user.id, n);
        if (n === 1 && !silent) emit(w, "join", user);
      }
    }
    const keep: RoomWatch["waiters"] = [];
    for (const waiter of w.waiters) waiter.seq <= w.lastSeq ? waiter.resolve() : keep.push(waiter);
    w.waiters = keep;
  }

  function sweep(w: RoomWatch): void {
    const now = Date.now();
    for (const [key, state] of [...w.keys]) if (state.seen + ttlMs < now) dropKey(w, key, false);
  }

  async function startWatch(w: RoomWatch): Promise<void> {
    const consumer = await conn.js.consumers.get(stream, {
      filter_subjects: roomFilter(w.room),
      deliver_policy: DeliverPolicy.LastPerSubject,
      inactive_threshold: 60_000,
    });
    const initial = (await consumer.info(true)).num_pending;
    let received = 0;
    let markReady!: () => void;
    const initialDone = new Promise<void>((resolve) => (markReady = resolve));
    if (initial === 0) markReady();
    const messages = await consumer.consume({
      callback: (m) => {
        received++;
        if (!w.stopped) apply(w, m, received <= initial);
        if (received === initial) markReady();
      },
    });
    const timer = setInterval(() => sweep(w), Math.max(100, Math.floor(ttlMs / 4)));
    timer.unref();
    w.stop = () => {
      clearInterval(timer);
      messages.close().catch(() => {});
      consumer.delete().catch(() => {});
    };
    if (w.stopped) w.stop();
    await initialDone;
  }

  /** Waits until this node's watch of `room` saw sequence `seq` (bounded). */
  function synced(room: string, seq: number): Promise<void> {
    const w = watches.get(room);
    if (!w || w.stopped || seq <= w.lastSeq) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, syncWaitMs);
      w.waiters.push({
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async function putKey(entry: LocalKey): Promise<number> {
    return kv.put(entry.key, JSON.stringify({ id: entry.user.id, name: entry.user.name }));
  }

  async function deleteKey(key: string): Promise<number> {
    const h = headers();
    h.set("KV-Operation", "DEL");
    const ack = await conn.js.publish(`$KV.${bucket}.${key}`, undefined, { headers: h });
    return ack.seq;
  }

  async function refreshAll(): Promise<void> {
    if (closed || !conn.connected) return;
    await Promise.all([...local.values()].map((e) => putKey(e).catch(() => 0)));
  }
  const refreshTimer = setInterval(() => void refreshAll(), Math.max(100, Math.floor(ttlMs / 3)));
  refreshTimer.unref();
  const offReconnect = conn.onReconnect(() => void refreshAll());

  return {
    async join(room, user): Promise<PresenceHandle> {
      if (closed) throw new BackendClosedError();
      conn.check();
      const key = keyOf(room, user.id);
      let entry = local.get(key);
      if (entry) {
        entry.handles++;
      } else {
        entry = { key, room, user: { id: user.id, name: user.name }, handles: 1 };
        local.set(key, entry);
        try {
          await synced(room, await putKey(entry));
        } catch (error) {
          entry.handles--;
          if (entry.handles === 0 && local.get(key) === entry) local.delete(key);
          throw conn.toBackendError(error);
        }
      }
      const own = entry;
      let left = false;
      return {
        async leave() {
          if (left || closed) return;
          left = true;
          own.handles--;
          if (own.handles > 0 || local.get(key) !== own) return;
          local.delete(key);
          // Best effort: if NATS is unreachable the key expires within the TTL.
          try {
            await synced(room, await deleteKey(key));
          } catch {
            // expires by TTL
          }
        },
      };
    },

    async list(room) {
      if (closed) throw new BackendClosedError();
      conn.check();
      try {
        const cursor = await openCursor(conn, {
          stream,
          filter: roomFilter(room),
          lastPerSubject: true,
          timeoutMs: options.requestTimeoutMs,
        });
        let msgs: JsMsg[];
        try {
          msgs = await cursor.next(cursor.pending);
        } finally {
          cursor.close();
        }
        const users = new Map<string, UserRef>();
        const now = Date.now();
        for (const m of msgs) {
          const op = m.headers?.get("KV-Operation") ?? "";
          if (op === "DEL" || op === "PURGE") continue;
          if (Math.floor(m.info.timestampNanos / 1e6) + ttlMs < now) continue;
          const v = m.json<UserRef>();
          if (!users.has(v.id)) users.set(v.id, Object.freeze({ id: v.id, name: v.name }));
        }
        return [...users.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      } catch (error) {
        throw conn.toBackendError(error);
      }
    },

    async watch(room, listener) {
      if (closed) throw new BackendClosedError();
      conn.check();
      let w = watches.get(room);
      if (!w) {
        const created: RoomWatch = {
          room,
          listeners: new Set(),
          keys: new Map(),
          users: new Map(),
          lastSeq: 0,
          ready: Promise.resolve(),
          stopped: false,
          stop: () => {},
          waiters: [],
        };
        created.ready = startWatch(created);
        created.ready.catch(() => {
          created.stopped = true;
          if (watches.get(room) === created) watches.delete(room);
        });
        watches.set(room, created);
        w = created;
      }
      const own = w;
      own.listeners.add(listener);
      const close = () => {
        own.listeners.delete(listener);
        if (own.listeners.size > 0 || own.stopped) return;
        own.stopped = true;
        if (watches.get(room) === own) watches.delete(room);
        for (const waiter of own.waiters) waiter.resolve();
        own.stop();
      };
      try {
        await own.ready;
      } catch (error) {
        close();
        throw conn.toBackendError(error);
      }
      return { close };
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(refreshTimer);
      offReconnect();
      for (const w of [...watches.values()]) {
        w.stopped = true;
        for (const waiter of w.waiters) waiter.resolve();
        w.stop();
      }
      watches.clear();
      const keys = [...local.keys()];
      local.clear();
      if (conn.connected) await Promise.all(keys.map((k) => deleteKey(k).catch(() => 0)));
    },
  };
}
