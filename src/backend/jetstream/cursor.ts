/**
 * A short-lived read cursor over one subject filter of a stream: an ordered
 * (ephemeral, memory, R1) consumer whose creation reports how many messages
 * match, followed by bounded fetches. Used for history pages, presence
 * listings and file downloads. Never waits for messages that do not exist:
 * callers fetch at most `pending` messages.
 *
 * @module
 */
import { type Consumer, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { JetStreamConnection } from "./connection.js";

/** An open read cursor. */
export interface StreamCursor {
  /** Matching messages at or after the start when the cursor opened. */
  readonly pending: number;
  /** Fetches the next `n` messages (fewer if some vanished), in stream order. */
  next(n: number): Promise<JsMsg[]>;
  /** Deletes the consumer (in the background). Idempotent. */
  close(): void;
}

/** Where a cursor starts. */
export interface CursorOptions {
  readonly stream: string;
  readonly filter: string;
  /** First stream sequence to deliver (default 1). Ignored with `lastPerSubject`. */
  readonly startSeq?: number;
  /** Deliver only the last message of each subject (KV listings). */
  readonly lastPerSubject?: boolean;
  /** Deliver headers only (skimming sequences without payloads). */
  readonly headersOnly?: boolean;
  /** Upper bound of one fetch when messages vanished meanwhile. */
  readonly timeoutMs: number;
}

/**
 * Opens a cursor.
 *
 * @example
 * const cursor = await openCursor(conn, { stream, filter: subject, startSeq: 10, timeoutMs: 5000 });
 * try { const msgs = await cursor.next(Math.min(cursor.pending, 100)); } finally { cursor.close(); }
 */
export async function openCursor(
  conn: JetStreamConnection,
  options: CursorOptions,
): Promise<StreamCursor> {
  const consumer: Consumer = await conn.js.consumers.get(options.stream, {
    filter_subjects: options.filter,
    ...(options.lastPerSubject
      ? { deliver_policy: DeliverPolicy.LastPerSubject }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.startSeq ?? 1 }),
    ...(options.headersOnly ? { headers_only: true } : {}),
    inactive_threshold: 30_000,
  });
  const info = await consumer.info(true);
  let closed = false;
  return {
    pending: info.num_pending,
    async next(n) {
      const out: JsMsg[] = [];
      if (n <= 0) return out;
      const iter = await consumer.fetch({
        max_messages: n,
        expires: Math.max(1000, options.timeoutMs),
      });
      // The fetch ends by itself after `n` messages (or at `expires`).
      for await (const m of iter) out.push(m);
      return out;
    },
    close() {
      if (closed) return;
      closed = true;
      consumer.delete().catch(() => {});
    },
  };
}
