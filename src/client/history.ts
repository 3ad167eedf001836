/**
 * History: one page of a room, addressed by offsets.
 *
 * @module
 */
import { Direction, type HistoryResponse } from "../gen/switchboard/chat/v1/chat_pb.js";
import type { ChatClient } from "./chat-client.js";

/** Which page of {@link fetchHistory}. With neither offset: the newest messages. */
export interface HistoryOptions {
  /** Page size, 1-1000. Default 100 (server default). */
  readonly limit?: number;
  /** Messages with offsets below this one (the page just before it). */
  readonly before?: bigint;
  /** Messages with offsets above this one (the page just after it). */
  readonly after?: bigint;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
  /** Deadline of the call. */
  readonly timeoutMs?: number;
}

/**
 * Fetches one page of a room's history, oldest first.
 *
 * @example
 * const page = await fetchHistory(client, "general", { limit: 20 });
 * const older = await fetchHistory(client, "general", { before: page.messages[0].offset });
 */
export function fetchHistory(
  client: ChatClient,
  room: string,
  options: HistoryOptions = {},
): Promise<HistoryResponse> {
  const forward = options.after !== undefined;
  return client.history(
    {
      room,
      offset: options.after ?? options.before ?? 0n,
      direction: forward ? Direction.FORWARD : Direction.BACKWARD,
      limit: options.limit ?? 0,
    },
    { signal: options.signal, timeoutMs: options.timeoutMs },
  );
}
