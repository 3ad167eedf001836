/**
 * JetStream {@link FanOut}: each node consumes each room that has local
 * subscribers exactly once — one ordered consumer per active room, created
 * on the first local subscribe and deleted when the last local subscriber
 * leaves — and hands every message to the local listeners in offset order.
 *
 * Start point: the stream's last sequence when the room became active, so
 * every message appended after `subscribe` resolved is delivered (plus,
 * possibly, a few appended just before). After every reconnect, on consumer
 * trouble reported by nats.js, and when an idle feed's consumer fails a probe,
 * the consumer is replaced by one starting after the last delivered sequence
 * (no gap; the sequence guard drops repeats), retried with backoff for up to
 * 30 s; a feed that cannot be recovered, or whose stream disappeared, ends its
 * subscribers with {@link BackendUnavailableError}.
 *
 * @module
 */
import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
} from "@nats-io/jetstream";
import { BackendClosedError, BackendUnavailableError } from "../errors.js";
import type {
  FanOut,
  FanOutSubscribeOptions,
  FanOutSubscription,
  StoredMessage,
} from "../types.js";
import { decodeMessage } from "./codec.js";
import type { JetStreamConnection } from "./connection.js";
import type { JetStreamNames } from "./options.js";

/** The JetStream fan-out with the hooks the backend needs. */
export interface JetStreamFanOut extends FanOut {
  /**
   * Resolves once the local subscribers of `room` were handed `seq` (at most
   * `timeoutMs` later), so an append made on this node is visible to this
   * node's subscribers when it resolves. Resolves at once when the room has
   * no local subscriber.
   */
  awaitDelivered(room: string, seq: number, timeoutMs: number): Promise<void>;
  /** Ends every subscription with `reason` (feeds stay usable for new subscribers). */
  endAll(reason: Error): void;
  /** Ends every subscription with BackendClosedError; later subscribes reject. Idempotent. */
  close(): void;
}

/** Options of {@link createJetStreamFanOut}. */
export interface JetStreamFanOutOptions {
  readonly conn: JetStreamConnection;
  readonly names: JetStreamNames;
  epoch(): string;
  /** How long a lost consumer is retried before its subscribers end (default 30 s). */
  readonly reattachGiveUpMs?: number;
  /** An idle feed's consumer is probed after this long without progress (default 15 s). */
  readonly idleProbeMs?: number;
}

interface Subscription {
  readonly feed: Feed;
  readonly listener: (message: StoredMessage) => void;
  readonly onEnd: ((reason: Error) => void) | undefined;
  open: boolean;
}

interface Feed {
  readonly room: string;
  readonly subs: Set<Subscription>;
  /** Highest sequence handed out (or the start point - 1); undefined until started. */
  lastSeq: number | undefined;
  ready: Promise<void>;
  stopped: boolean;
  /** Incremented by every new consumer; older consumers' events are ignored. */
  generation: number;
  /** True while a replacement consumer is being created. */
  reattaching: boolean;
  /** Set when another replacement was asked for while one was being created. */
  reattachAgain: boolean;
  /** When the feed last made progress (message delivered, consumer (re)created or probed OK). */
  progressAt: number;
  consumer?: Consumer;
  messages?: ConsumerMessages;
  waiters: { seq: number; resolve: () => void }[];
}

/**
 * Creates the fan-out.
 *
 * @example
 * const fanout = createJetStreamFanOut({ conn, names, epoch: () => epoch });
 * const sub = await fanout.subscribe("lobby", (m) => queue.push(m), { onEnd });
 */
export function createJetStreamFanOut(options: JetStreamFanOutOptions): JetStreamFanOut {
  const { conn, names } = options;
  const reattachGiveUpMs = options.reattachGiveUpMs ?? 30_000;
  const idleProbeMs = options.idleProbeMs ?? 15_000;
  const feeds = new Map<string, Feed>();
  let active = 0;
  let closed = false;

  // After a reconnect the consumers may be gone with the server that hosted
  // them (ordered consumers are R1), and nats.js then retries a consumer info
  // forever without reporting anything: replace every consumer ourselves.
  const unregisterReconnect = conn.onReconnect(() => {
    for (const feed of feeds.values()) if (feed.lastSeq !== undefined) void reattach(feed);
  });
  // Watchdog: an idle feed's consumer is probed; one that cannot be found or
  // does not answer is replaced (a silent consumer must never go unnoticed).
  const watchdog = setInterval(
    () => {
      if (!conn.connected) return;
      const now = Date.now();
      for (const feed of feeds.values()) {
        if (feed.reattaching || !feed.consumer || now - feed.progressAt < idleProbeMs) continue;
        feed.progressAt = now; // One probe per idle period.
        const consumer = feed.consumer;
        consumer.info().then(
          () => {},
          () => {
            if (feed.consumer === consumer && conn.connected) void reattach(feed);
          },
        );
      }
    },
    Math.max(250, Math.floor(idleProbeMs / 3)),
  );
  watchdog.unref?.();

  function releaseWaiters(feed: Feed, all: boolean): void {
    const keep: Feed["waiters"] = [];
    for (const w of feed.waiters) {
      if (all || (feed.lastSeq !== undefined && w.seq <= feed.lastSeq)) w.resolve();
      else keep.push(w);
    }
    feed.waiters = keep;
  }

  function stopFeed(feed: Feed): void {
    if (feed.stopped) return;
    feed.stopped = true;
    if (feeds.get(feed.room) === feed) feeds.delete(feed.room);
    releaseWaiters(feed, true);
    feed.messages?.close().catch(() => {});
    feed.consumer?.delete().catch(() => {});
  }

  function remove(sub: Subscription): void {
    if (!sub.open) return;
    sub.open = false;
    active--;
    sub.feed.subs.delete(sub);
    if (sub.feed.subs.size === 0) stopFeed(sub.feed);
  }

  function end(sub: Subscription, reason: Error): void {
    if (!sub.open) return;
    remove(sub);
    try {
      sub.onEnd?.(reason);
    } catch {
      // What onEnd throws is ignored (contract).
    }
  }

  function endFeed(feed: Feed, reason: Error): void {
    for (const sub of [...feed.subs]) end(sub, reason);
    stopFeed(feed);
  }

  function onMessage(feed: Feed, m: JsMsg): void {
    if (feed.stopped || feed.lastSeq === undefined || m.seq <= feed.lastSeq) return;
    feed.lastSeq = m.seq;
    feed.progressAt = Date.now();
    let message: StoredMessage;
    try {
      message = decodeMessage(m.data, m.seq, options.epoch());
    } catch {
      releaseWaiters(feed, false);
      return; // Not a Switchboard message: nothing to deliver.
    }
    for (const sub of [...feed.subs]) {
      if (!sub.open) continue;
      try {
        sub.listener(message);
      } catch (err) {
        end(sub, err instanceof Error ? err : new Error("fan-out listener threw", { cause: err }));
      }
    }
    releaseWaiters(feed, false);
  }

  /** Consumes the feed's room from `startSeq` with a new ordered consumer (generation++). */
  async function attach(feed: Feed, startSeq: number): Promise<void> {
    const generation = ++feed.generation;
    const consumer = await conn.js.consumers.get(names.messagesStream, {
      filter_subjects: names.roomSubject(feed.room),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      inactive_threshold: 60_000,
    });
    const stale = () => feed.stopped || feed.generation !== generation;
    if (stale()) {
      consumer.delete().catch(() => {});
      return;
    }
    const messages = await consumer.consume({
      max_messages: 256,
      // Heartbeats every 2.5 s: a consumer lost with its server is noticed within ~5 s.
      expires: 5000,
      callback: (m) => onMessage(feed, m),
    });
    if (stale()) {
      messages.close().catch(() => {});
      consumer.delete().catch(() => {});
      return;
    }
    const previous = { consumer: feed.consumer, messages: feed.messages };
    feed.consumer = consumer;
    feed.messages = messages;
    previous.messages?.close().catch(() => {});
    previous.consumer?.delete().catch(() => {});
    feed.progressAt = Date.now();
    void (async () => {
      for await (const s of messages.status()) {
        if (stale()) return;
        if (s.type === "stream_not_found") {
          // The history is gone: end, so that readers resync with the new epoch.
          endFeed(feed, new BackendUnavailableError("the message stream is gone"));
          return;
        }
        // - ordered_consumer_recreated: nats.js recreated the consumer after
        //   losing it (e.g. a server restart) but keeps stale pull accounting
        //   that can stall delivery until heartbeats are missed;
        // - heartbeats_missed (only reported while connected): the consumer
        //   lives on a server that is gone (R1 consumer in a cluster) and
        //   nats.js may keep polling it.
        // Either way: a fresh consumer after the last delivered message
        // (no gap: lastSeq + 1; no repeat: the lastSeq guard).
        // - consumer_not_found / no_responders: same, reported by nats.js.
        if (
          s.type === "ordered_consumer_recreated" ||
          s.type === "heartbeats_missed" ||
          s.type === "consumer_not_found" ||
          s.type === "no_responders"
        ) {
          void reattach(feed);
          return;
        }
      }
    })().catch(() => {});
    void messages.closed().then((err) => {
      if (stale()) return;
      endFeed(
        feed,
        new BackendUnavailableError("fan-out consumer lost", err ? { cause: err } : undefined),
      );
    });
  }

  /**
   * Replaces the feed's consumer with one starting after the last delivered
   * message, retrying with backoff (the JetStream API may be unavailable for
   * a while after a failover: leader elections). One at a time; a request
   * made meanwhile replaces it once more. After `reattachGiveUpMs` of
   * failures the feed's subscribers end with BackendUnavailableError, so that
   * clients resume from history instead of staying silently stuck.
   */
  async function reattach(feed: Feed): Promise<void> {
    if (feed.reattaching) {
      feed.reattachAgain = true;
      return;
    }
    feed.reattaching = true;
    const since = Date.now();
    let lastError: unknown;
    try {
      for (let attempt = 0; !feed.stopped && !closed; attempt++) {
        if (Date.now() - since > reattachGiveUpMs) {
          endFeed(
            feed,
            new BackendUnavailableError("fan-out consumer lost and not recreated", {
              cause: lastError,
            }),
          );
          return;
        }
        feed.reattachAgain = false;
        try {
          if (!conn.connected) throw new BackendUnavailableError(conn.reason());
          await attach(feed, (feed.lastSeq ?? 0) + 1);
          if (!feed.reattachAgain) return;
          attempt = -1;
        } catch (error) {
          lastError = error;
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
        }
      }
    } finally {
      feed.reattaching = false;
    }
  }

  async function startFeed(feed: Feed): Promise<void> {
    const si = await conn.jsm.streams.info(names.messagesStream);
    const start = si.state.last_seq + 1;
    feed.lastSeq = start - 1;
    await attach(feed, start);
  }

  return {
    get activeSubscriptions() {
      return active;
    },

    async subscribe(room, listener, opts?: FanOutSubscribeOptions): Promise<FanOutSubscription> {
      if (closed) throw new BackendClosedError();
      conn.check();
      let feed = feeds.get(room);
      if (!feed) {
        const created: Feed = {
          room,
          subs: new Set(),
          lastSeq: undefined,
          ready: Promise.resolve(),
          stopped: false,
          generation: 0,
          reattaching: false,
          reattachAgain: false,
          progressAt: Date.now(),
          waiters: [],
        };
        created.ready = startFeed(created);
        // A failed start forgets the feed so that the next subscribe retries.
        created.ready.catch(() => stopFeed(created));
        feeds.set(room, created);
        feed = created;
      }
      const sub: Subscription = { feed, listener, onEnd: opts?.onEnd, open: true };
      feed.subs.add(sub);
      active++;
      try {
        await feed.ready;
      } catch (error) {
        remove(sub);
        throw conn.toBackendError(error);
      }
      if (closed) throw new BackendClosedError();
      return { close: () => remove(sub) };
    },

    awaitDelivered(room, seq, timeoutMs) {
      const feed = feeds.get(room);
      if (!feed || feed.stopped || feed.lastSeq === undefined || seq <= feed.lastSeq) {
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        feed.waiters.push({
          seq,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },

    endAll(reason) {
      for (const feed of [...feeds.values()]) endFeed(feed, reason);
    },

    close() {
      if (closed) return;
      closed = true;
      unregisterReconnect();
      clearInterval(watchdog);
      const reason = new BackendClosedError();
      for (const feed of [...feeds.values()]) endFeed(feed, reason);
    },
  };
}
