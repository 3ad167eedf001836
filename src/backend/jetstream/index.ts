/**
 * The JetStream backend: every role on NATS JetStream, so several
 * Switchboard processes (nodes) sharing a prefix form one cluster — history,
 * idempotency, files and presence are shared; each node fans out to its own
 * subscribers.
 *
 * | role       | NATS resource                                            |
 * |------------|----------------------------------------------------------|
 * | MessageLog | stream `<PREFIX>_MESSAGES`, subject `<prefix>.room.<room>` |
 * | idempotency| `Nats-Msg-Id` + KV `<prefix>_idempotency`                 |
 * | FanOut     | one ordered consumer per active room per node            |
 * | BlobStore  | Object Store `<prefix>_files`                            |
 * | Presence   | KV `<prefix>_presence` (max_age = presence TTL)          |
 *
 * @module
 */
import { StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { BackendUnavailableError } from "../errors.js";
import type { Backend } from "../types.js";
import { createJetStreamBlobStore } from "./blob-store.js";
import { openJetStreamConnection } from "./connection.js";
import { createJetStreamFanOut } from "./fan-out.js";
import { createJetStreamMessageLog } from "./message-log.js";
import {
  ensureMessagesStream,
  epochOf,
  isApiError,
  streamNotFoundCode,
} from "./messages-stream.js";
import {
  type JetStreamBackendOptions,
  jetStreamNames,
  resolveJetStreamOptions,
} from "./options.js";
import { createJetStreamPresence } from "./presence.js";

export { deleteJetStreamData } from "./admin.js";
export type { JetStreamBackendOptions } from "./options.js";

/** A JetStream backend (a node of a cluster). */
export interface JetStreamBackend extends Backend {
  /** Random id of this node (part of its presence keys). */
  readonly nodeId: string;
}

/** How often a node checks that the message stream exists and its epoch. */
const probeIntervalMs = 2000;

/** How long opening the stream and buckets is retried at start-up. */
const OPEN_RETRY_MS = 30_000;

/**
 * Connects to NATS, creates (or adopts) the stream and buckets of the
 * prefix, and returns a ready backend. Rejects with
 * {@link BackendUnavailableError} when NATS or JetStream cannot be reached.
 *
 * @example
 * const backend = await createJetStreamBackend({ servers: "nats://127.0.0.1:4222", prefix: "switchboard" });
 * await backend.log.append({ room: "lobby", sender, text: "hi", attachments: [], clientMessageId: "" });
 * await backend.close();
 */
export async function createJetStreamBackend(
  options: JetStreamBackendOptions,
): Promise<JetStreamBackend> {
  const o = resolveJetStreamOptions(options);
  const names = jetStreamNames(o.prefix);
  const conn = await openJetStreamConnection(o);
  let epoch: string;
  let opened: Awaited<ReturnType<typeof openResources>>;
  async function openResources() {
    const kvm = new Kvm(conn.js);
    const replicas = o.replicas;
    const [presenceKv, idempotency, store] = await Promise.all([
      kvm.create(names.presenceBucket, {
        ttl: o.presenceTtlMs,
        history: 1,
        replicas,
        storage: StorageType.File,
      }),
      o.idempotencyWindowMs > 0
        ? kvm.create(names.idempotencyBucket, {
            ttl: o.idempotencyWindowMs,
            history: 1,
            replicas,
            storage: StorageType.File,
          })
        : Promise.resolve(undefined),
      new Objm(conn.js).create(names.filesBucket, { replicas, storage: StorageType.File }),
    ]);
    return { presenceKv, idempotency, store };
  }
  // A NATS cluster that has just formed (or lost a server) answers JetStream
  // API requests with timeouts until its meta leader settles: keep trying for
  // a bounded time before giving up.
  const openDeadline = Date.now() + OPEN_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      epoch = epochOf(await ensureMessagesStream(conn, names, o));
      opened = await openResources();
      break;
    } catch (error) {
      if (Date.now() < openDeadline) {
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
        continue;
      }
      await conn.close();
      throw error instanceof BackendUnavailableError
        ? error
        : new BackendUnavailableError(
            `cannot open JetStream resources: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
    }
  }

  let streamOk = true;
  let closed = false;
  const fanout = createJetStreamFanOut({ conn, names, epoch: () => epoch });

  async function probe(): Promise<void> {
    if (closed || !conn.connected) return;
    try {
      const info = await ensureMessagesStream(conn, names, o);
      const now = epochOf(info);
      streamOk = true;
      if (now !== epoch) {
        epoch = now;
        // History was reset: live subscribers must resync against the new epoch.
        fanout.endAll(new BackendUnavailableError("the message stream was recreated"));
      }
    } catch (error) {
      if (isApiError(error, streamNotFoundCode)) streamOk = false;
    }
  }
  const probeTimer = setInterval(() => void probe(), probeIntervalMs);
  probeTimer.unref();
  const offReconnect = conn.onReconnect(() => void probe());

  const log = createJetStreamMessageLog({
    conn,
    names,
    options: o,
    epoch: () => epoch,
    idempotency: opened.idempotency,
    afterAppend: (room, seq) => fanout.awaitDelivered(room, seq, 1000),
    onStreamMissing: () => {
      streamOk = false;
      void probe();
    },
  });
  const blobs = createJetStreamBlobStore({
    conn,
    store: opened.store,
    bucket: names.filesBucket,
    requestTimeoutMs: o.requestTimeoutMs,
  });
  const presence = createJetStreamPresence({
    conn,
    kv: opened.presenceKv,
    bucket: names.presenceBucket,
    ttlMs: o.presenceTtlMs,
    requestTimeoutMs: o.requestTimeoutMs,
  });

  return {
    kind: "jetstream",
    nodeId: conn.nodeId,
    log,
    fanout,
    blobs,
    presence,
    health() {
      if (closed) return { ready: false, reason: "backend closed" };
      if (!conn.connected) return { ready: false, reason: conn.reason() };
      if (!streamOk) return { ready: false, reason: `stream ${names.messagesStream} is missing` };
      return { ready: true, reason: "" };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(probeTimer);
      offReconnect();
      fanout.close();
      await blobs.abortAll();
      await presence.close();
      await conn.close();
    },
  };
}
