/**
 * How a message is stored in the stream: its subject names the room, its
 * stream sequence is the offset, and the payload is JSON of the remaining
 * fields. The same decoding serves direct gets, consumer deliveries and
 * duplicate lookups, so a message reads back identical whatever the path.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { AppendInput, StoredFile, StoredMessage } from "../types.js";

/** The JSON payload of a stored message. */
interface MessagePayload {
  readonly v: 1;
  readonly id: string;
  readonly room: string;
  readonly sender: { readonly id: string; readonly name: string };
  readonly text: string;
  readonly attachments: readonly StoredFile[];
  readonly time: number;
  readonly clientMessageId: string;
  readonly traceparent?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Builds the payload of a new message (a fresh id and the current time).
 *
 * @example
 * const { payload, fields } = encodeMessage(input);
 */
export function encodeMessage(input: AppendInput): Uint8Array {
  const payload: MessagePayload = {
    v: 1,
    id: globalThis.crypto.randomUUID(),
    room: input.room,
    sender: { id: input.sender.id, name: input.sender.name },
    text: input.text,
    attachments: input.attachments,
    time: Date.now(),
    clientMessageId: input.clientMessageId,
    ...(input.traceparent !== undefined ? { traceparent: input.traceparent } : {}),
  };
  return encoder.encode(JSON.stringify(payload));
}

function freezeFile(f: StoredFile): StoredFile {
  return Object.freeze({ ...f, uploader: Object.freeze({ ...f.uploader }) });
}

/**
 * Decodes a stored payload into a frozen {@link StoredMessage}.
 *
 * @example
 * const message = decodeMessage(sm.data, BigInt(sm.seq), epoch);
 */
export function decodeMessage(data: Uint8Array, seq: number, epoch: string): StoredMessage {
  const p = JSON.parse(decoder.decode(data)) as MessagePayload;
  return Object.freeze({
    id: p.id,
    room: p.room,
    offset: BigInt(seq),
    epoch,
    sender: Object.freeze({ id: p.sender.id, name: p.sender.name }),
    text: p.text,
    attachments: Object.freeze(p.attachments.map(freezeFile)),
    time: p.time,
    clientMessageId: p.clientMessageId,
    ...(p.traceparent !== undefined ? { traceparent: p.traceparent } : {}),
  });
}

/**
 * The idempotency key of (room, sender id, clientMessageId): the `Nats-Msg-Id`
 * and the key of the idempotency index. Hex SHA-256, so any strings are safe.
 *
 * @example
 * idempotencyKey("lobby", "ada", "c1"); // "3f…"
 */
export function idempotencyKey(room: string, senderId: string, clientMessageId: string): string {
  return createHash("sha256")
    .update(JSON.stringify([room, senderId, clientMessageId]))
    .digest("hex");
}
