/**
 * Deletes everything a JetStream backend prefix owns (for tests and for an
 * operator resetting a deployment). Every node of the prefix must be stopped
 * first; a node still running recreates the stream with a new epoch.
 *
 * @module
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { isApiError, streamNotFoundCode } from "./messages-stream.js";
import { jetStreamNames } from "./options.js";

/**
 * Deletes the message stream and the presence, idempotency and files buckets
 * of `prefix`. Missing ones are ignored.
 *
 * @example
 * await deleteJetStreamData({ servers: "nats://127.0.0.1:4222", prefix: "sbtest_1" });
 */
export async function deleteJetStreamData(options: {
  servers: string | string[];
  prefix: string;
}): Promise<void> {
  const names = jetStreamNames(options.prefix);
  const nc = await connect({ servers: options.servers, timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const streams = [
      names.messagesStream,
      `KV_${names.presenceBucket}`,
      `KV_${names.idempotencyBucket}`,
      `OBJ_${names.filesBucket}`,
    ];
    for (const stream of streams) {
      try {
        await jsm.streams.delete(stream);
      } catch (error) {
        if (!isApiError(error, streamNotFoundCode)) throw error;
      }
    }
  } finally {
    await nc.close();
  }
}
