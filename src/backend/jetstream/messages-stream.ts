/**
 * The `<PREFIX>_MESSAGES` stream: created (or brought to the configured
 * retention) at open, and the source of the epoch.
 *
 * Epoch: a random id written into the stream's description when the stream
 * is created (`switchboard messages; epoch=<uuid>`). Every node reads the
 * same description, it survives server restarts, and deleting and recreating
 * the stream (history lost) gives a new one. Two nodes racing to create the
 * stream both end with the winner's description.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { JetStreamConnection } from "./connection.js";
import type { JetStreamNames, ResolvedJetStreamOptions } from "./options.js";

/** API error code: stream not found. */
export const streamNotFoundCode = 10059;
/** API error code: stream name already in use with a different configuration. */
const streamNameInUseCode = 10058;

/** True when `error` is the JetStream API error `code`. */
export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** The epoch of a stream, from its description (or, for a foreign stream, its creation time). */
export function epochOf(info: StreamInfo): string {
  const match = /epoch=([0-9a-f-]{8,64})/.exec(info.config.description ?? "");
  if (match) return match[1]!;
  return createHash("sha256")
    .update(`${info.config.name}\n${String(info.created)}`)
    .digest("hex")
    .slice(0, 32);
}

function desiredConfig(
  names: JetStreamNames,
  o: ResolvedJetStreamOptions,
): Partial<StreamConfig> & { name: string } {
  const dedupe = o.maxAgeMs > 0 ? Math.min(o.dedupeWindowMs, o.maxAgeMs) : o.dedupeWindowMs;
  return {
    name: names.messagesStream,
    subjects: [names.roomsWildcard],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(o.maxAgeMs),
    max_msgs_per_subject: o.maxMessagesPerRoom > 0 ? o.maxMessagesPerRoom : -1,
    duplicate_window: nanos(dedupe),
    num_replicas: o.replicas,
    allow_direct: true,
  };
}

/**
 * Returns the stream's info, creating the stream when it does not exist and
 * updating its retention, dedupe window and replicas when they differ from
 * the options.
 *
 * @example
 * const info = await ensureMessagesStream(conn, names, options);
 * const epoch = epochOf(info);
 */
export async function ensureMessagesStream(
  conn: JetStreamConnection,
  names: JetStreamNames,
  options: ResolvedJetStreamOptions,
): Promise<StreamInfo> {
  const want = desiredConfig(names, options);
  let info: StreamInfo;
  try {
    info = await conn.jsm.streams.info(names.messagesStream);
  } catch (error) {
    if (!isApiError(error, streamNotFoundCode)) throw error;
    const description = `switchboard messages; epoch=${globalThis.crypto.randomUUID()}`;
    try {
      return await conn.jsm.streams.add({ ...want, description });
    } catch (addError) {
      // Another node created it first: use theirs.
      if (!isApiError(addError, streamNameInUseCode)) throw addError;
      info = await conn.jsm.streams.info(names.messagesStream);
    }
  }
  const c = info.config;
  const differs =
    c.max_age !== want.max_age ||
    c.max_msgs_per_subject !== want.max_msgs_per_subject ||
    c.duplicate_window !== want.duplicate_window ||
    c.num_replicas !== want.num_replicas ||
    c.allow_direct !== true;
  if (!differs) return info;
  return conn.jsm.streams.update(names.messagesStream, {
    max_age: want.max_age,
    max_msgs_per_subject: want.max_msgs_per_subject,
    duplicate_window: want.duplicate_window,
    num_replicas: want.num_replicas,
    allow_direct: true,
  });
}
