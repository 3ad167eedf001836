/**
 * Send with retry: one idempotency key per logical message, reused on every
 * attempt, so a retried Send never stores the message twice.
 *
 * @module
 */
import { ConnectError } from "@connectrpc/connect";
import type { SendResponse } from "../gen/switchboard/chat/v1/chat_pb.js";
import { type BackoffOptions, createBackoff, sleep } from "./backoff.js";
import type { ChatClient } from "./chat-client.js";
import { isTransientError, retryAfterMs } from "./errors.js";

/** Options of {@link sendWithRetry}. */
export interface SendOptions {
  /** Ids of files uploaded before. */
  readonly attachmentFileIds?: readonly string[];
  /** Idempotency key; a random UUID when not given. */
  readonly clientMessageId?: string;
  /** Attempts in total, at least 1. Default 5. */
  readonly maxAttempts?: number;
  /** Delays between attempts. */
  readonly backoff?: BackoffOptions;
  /** Deadline of each attempt. */
  readonly timeoutMs?: number;
  /** Cancels the send and any pending retry. */
  readonly signal?: AbortSignal;
  /** Called before each retry. */
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: ConnectError }) => void;
}

/**
 * Sends one message, retrying transient failures (server unreachable or
 * restarting, broken connection) with backoff and the same
 * `client_message_id`. A rate-limited send (`resource_exhausted` with a
 * `retry-after-ms` header or trailer) is retried after the time the server
 * asked for. The response's `duplicate` is true when an earlier
 * attempt had already stored the message.
 *
 * @example
 * const { message } = await sendWithRetry(client, "general", "hello");
 */
export async function sendWithRetry(
  client: ChatClient,
  room: string,
  text: string,
  options: SendOptions = {},
): Promise<SendResponse> {
  const clientMessageId = options.clientMessageId ?? globalThis.crypto.randomUUID();
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const backoff = createBackoff(options.backoff);
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.send(
        {
          room,
          text,
          attachmentFileIds: [...(options.attachmentFileIds ?? [])],
          clientMessageId,
        },
        { signal: options.signal, timeoutMs: options.timeoutMs },
      );
    } catch (err) {
      // A rate limit says when to come back: wait that long (plus up to 10 %).
      const retryAfter = retryAfterMs(err);
      const retryable = retryAfter !== undefined || isTransientError(err);
      if (options.signal?.aborted || attempt >= maxAttempts || !retryable) throw err;
      const delayMs =
        retryAfter !== undefined
          ? Math.ceil(retryAfter * (1 + 0.1 * Math.random()))
          : backoff.next();
      options.onRetry?.({ attempt, delayMs, error: ConnectError.from(err) });
      await sleep(delayMs, options.signal);
    }
  }
}
