/**
 * The NATS connection of a JetStream backend: connects with unlimited,
 * backed-off reconnects, tracks whether it is connected right now (so calls
 * fail fast with {@link BackendUnavailableError} during an outage instead of
 * waiting for a request timeout), and maps NATS errors to backend errors.
 *
 * @module
 */
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  BackendClosedError,
  BackendUnavailableError,
  NotFoundError,
  OutOfRangeError,
} from "../errors.js";
import type { ResolvedJetStreamOptions } from "./options.js";

/** A connection shared by every role of one backend. */
export interface JetStreamConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Random id of this backend instance (= node). */
  readonly nodeId: string;
  /** True while the TCP connection to a server is up. */
  readonly connected: boolean;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Why calls fail right now ("" when connected and open). */
  reason(): string;
  /** Throws BackendClosedError after close, BackendUnavailableError while disconnected. */
  check(): void;
  /** Calls `fn` after every reconnect; returns the unregister function. */
  onReconnect(fn: () => void): () => void;
  /** Maps any error thrown by a NATS call to a backend error. */
  toBackendError(error: unknown): Error;
  /** Marks the connection closed and drains it. Idempotent. */
  close(): Promise<void>;
}

/** Backoff of reconnect attempts: 50 ms doubling up to 2 s, with jitter. */
function createReconnectBackoff(): { delay: () => number; reset: () => void } {
  let attempt = 0;
  return {
    delay() {
      const base = Math.min(2000, 50 * 2 ** attempt);
      attempt++;
      return base + Math.floor(Math.random() * base * 0.2);
    },
    reset() {
      attempt = 0;
    },
  };
}

/**
 * Connects to NATS. Rejects with {@link BackendUnavailableError} when no
 * server answers within `connectTimeoutMs` (no background retry of the first
 * connection: a misconfigured server fails at startup).
 *
 * @example
 * const conn = await openJetStreamConnection(resolveJetStreamOptions({ servers: "nats://127.0.0.1:4222" }));
 */
export async function openJetStreamConnection(
  options: ResolvedJetStreamOptions,
): Promise<JetStreamConnection> {
  const nodeId = globalThis.crypto.randomUUID().replaceAll("-", "");
  const backoff = createReconnectBackoff();
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: options.servers,
      name: options.name ?? `switchboard-${nodeId.slice(0, 8)}`,
      timeout: options.connectTimeoutMs,
      maxReconnectAttempts: -1,
      reconnectDelayHandler: backoff.delay,
      pingInterval: 10_000,
      maxPingOut: 2,
      // nats.js otherwise builds an Error (and captures its stack) on every
      // request — every JetStream publish — just in case it times out: ~7 %
      // of a node's CPU under Send load (bench/README.md, Cluster profile).
      // Timeouts and failures are still errors; only the caller's async
      // stack is missing from them, and the backend maps them by type.
      noAsyncTraces: true,
    });
  } catch (error) {
    throw new BackendUnavailableError(
      `cannot connect to NATS at ${options.servers.join(", ")}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const js = jetstream(nc, { timeout: options.requestTimeoutMs });
  const jsm = await jetstreamManager(nc, { timeout: options.requestTimeoutMs, checkAPI: false });
  let connected = true;
  let closed = false;
  const reconnectListeners = new Set<() => void>();

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting") connected = false;
      if (s.type === "reconnect") {
        connected = true;
        backoff.reset();
        for (const fn of [...reconnectListeners]) {
          try {
            fn();
          } catch {
            // A listener's failure must not stop status tracking.
          }
        }
      }
    }
  })().catch(() => {});
  void nc.closed().then(() => {
    connected = false;
  });

  const reason = () =>
    closed ? "backend closed" : connected ? "" : "disconnected from NATS, reconnecting";

  return {
    nc,
    js,
    jsm,
    nodeId,
    get connected() {
      return connected;
    },
    get closed() {
      return closed;
    },
    reason,
    check() {
      if (closed) throw new BackendClosedError();
      if (!connected) throw new BackendUnavailableError(reason());
    },
    onReconnect(fn) {
      reconnectListeners.add(fn);
      return () => reconnectListeners.delete(fn);
    },
    toBackendError(error) {
      if (closed)
        return error instanceof BackendClosedError
          ? error
          : new BackendClosedError({ cause: error });
      if (
        error instanceof BackendClosedError ||
        error instanceof BackendUnavailableError ||
        error instanceof NotFoundError ||
        error instanceof OutOfRangeError
      ) {
        return error;
      }
      if (error instanceof Error && error.name === "AbortError") return error;
      const message = error instanceof Error ? error.message : String(error);
      return new BackendUnavailableError(`NATS JetStream: ${message}`, { cause: error });
    },
    async close() {
      if (closed) return;
      closed = true;
      reconnectListeners.clear();
      // Drain flushes what is in flight; bounded, since it cannot finish while disconnected.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        nc.drain().catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, connected ? 2000 : 0);
        }),
      ]);
      clearTimeout(timer);
      if (!nc.isClosed()) await nc.close().catch(() => {});
    },
  };
}
