/**
 * Times the backend calls the service makes, per backend kind and
 * operation, into `switchboard_backend_operation_duration_seconds`:
 * `append` (for SQLite the committed write, including the wait for its
 * group commit; for JetStream the publish ack),
 * `read`, `info`, `blob_stat`, `blob_commit`. The wrapper is handed to the
 * service only; the server keeps the backend itself.
 *
 * @module
 */

import type { Backend, BlobStore, BlobWriter, MessageLog } from "../backend/types.js";
import type { Metrics } from "./metrics.js";

type Labels = { readonly backend: string; readonly operation: string };

/**
 * Returns a backend whose log and blob store report their latencies; every
 * other role is the original object.
 *
 * @example
 * const service = createChatService({ backend: instrumentBackend(backend, metrics) });
 */
export function instrumentBackend(backend: Backend, metrics: Metrics): Backend {
  const histogram = metrics.backendDuration;
  // Label objects made once, not per call (this wrapper is on every Send).
  const labels = (operation: string): Labels => ({ backend: backend.kind, operation });
  const append = labels("append");
  const read = labels("read");
  const info = labels("info");
  const blobCommit = labels("blob_commit");
  const blobStat = labels("blob_stat");
  const timed = async <T>(operation: Labels, run: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await run();
    } finally {
      histogram.observe(operation, (performance.now() - start) / 1000);
    }
  };
  const inner = backend.log;
  const log = extend<MessageLog>(inner, {
    append: (input, signal) => timed(append, () => inner.append(input, signal)),
    read: (room, query, signal) => timed(read, () => inner.read(room, query, signal)),
    info: (room, signal) => timed(info, () => inner.info(room, signal)),
  });
  const blobsInner = backend.blobs;
  const blobs = extend<BlobStore>(blobsInner, {
    async create(meta) {
      const writer = await blobsInner.create(meta);
      return extend<BlobWriter>(writer, {
        commit: () => timed(blobCommit, () => writer.commit()),
      });
    },
    stat: (id) => timed(blobStat, () => blobsInner.stat(id)),
  });
  return extend<Backend>(backend, { log, blobs });
}

/**
 * An object that behaves as `base` (everything not overridden is looked up
 * on it, getters included) with `overrides` in front.
 */
function extend<T extends object>(base: T, overrides: Partial<T>): T {
  const props: PropertyDescriptorMap = {};
  for (const [key, value] of Object.entries(overrides)) {
    props[key] = { value, enumerable: true };
  }
  return Object.create(base, props) as T;
}

/**
 * Hooks a backend implementation reports its own events and timings
 * through, e.g. the JetStream backend: `event("nats_reconnect")` on each
 * NATS reconnect, `timing("publish_ack", seconds)` per acknowledged publish.
 */
export interface BackendObserver {
  /** Counts `switchboard_backend_events_total{backend, event}`. */
  event(name: string): void;
  /** Observes `switchboard_backend_operation_duration_seconds{backend, operation}`. */
  timing(operation: string, seconds: number): void;
}

/**
 * Creates the {@link BackendObserver} of a backend kind.
 *
 * @example
 * const observer = createBackendObserver(metrics, "jetstream");
 * observer.event("nats_reconnect");
 */
export function createBackendObserver(metrics: Metrics, backend: string): BackendObserver {
  return {
    event: (name) => metrics.backendEvents.inc({ backend, event: name }),
    timing: (operation, seconds) =>
      metrics.backendDuration.observe({ backend, operation }, seconds),
  };
}
