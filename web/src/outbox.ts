/**
 * Sending with optimistic display: a message is shown at once as "sending",
 * then confirmed by the stored message's offset (the Chat stream's ack, or
 * the unary Send's answer when the stream is down). Every attempt, automatic
 * or the person's "Retry", reuses the message's `client_message_id`, so the
 * server stores it once however often it is tried.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { createBackoff, sleep } from "../../src/client/backoff.js";
import type { SwitchboardCore } from "../../src/client/core.js";
import { ChatRequestError, isTransientError } from "../../src/client/errors.js";
import type { FileInfo, Message } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { newClientMessageId } from "./format.js";
import type { Presence } from "./presence.js";

/** A message on its way. */
export interface OutgoingMessage {
  readonly room: string;
  readonly text: string;
  readonly attachments: readonly FileInfo[];
  /** The idempotency key, the same for every attempt. */
  readonly clientMessageId: string;
  readonly createdMs: number;
  status: "sending" | "sent" | "failed";
  /** Why the last attempt failed, for "failed". */
  error?: string;
  /** The stored message, once confirmed. */
  stored?: Message;
}

/** Callbacks of {@link createOutbox}. */
export interface OutboxHandlers {
  /** Called on every status change. */
  onUpdate(message: OutgoingMessage): void;
}

/** The outbox. */
export interface Outbox {
  /** Shows and sends a new message. */
  send(room: string, text: string, attachments?: readonly FileInfo[]): OutgoingMessage;
  /** Sends a failed message again, with the same client_message_id. */
  retry(clientMessageId: string): void;
  /** A message still on its way or failed, by key. */
  get(clientMessageId: string): OutgoingMessage | undefined;
}

/** Attempts before a message is shown as failed (about 30 s with backoff). */
const automaticAttempts = 8;
/** Deadline of one attempt. */
const attemptTimeoutMs = 10_000;

/**
 * Creates the outbox over the fetch SDK and the presence Chat session.
 *
 * @example
 * const outbox = createOutbox(api.fetch, presence, { onUpdate: render });
 * outbox.send("general", "hello");
 */
export function createOutbox(
  core: SwitchboardCore,
  presence: Presence,
  handlers: OutboxHandlers,
): Outbox {
  const messages = new Map<string, OutgoingMessage>();

  const attempt = async (m: OutgoingMessage): Promise<Message | undefined> => {
    const attachmentFileIds = m.attachments.map((a) => a.id);
    const chat = presence.session;
    if (chat && presence.joined(m.room)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ConnectError("no acknowledgement in time", Code.Unavailable)),
          attemptTimeoutMs,
        );
      });
      try {
        const ack = await Promise.race([
          chat.send(m.room, m.text, { attachmentFileIds, clientMessageId: m.clientMessageId }),
          timeout,
        ]);
        return ack.message;
      } finally {
        clearTimeout(timer);
      }
    }
    const res = await core.send(m.room, m.text, {
      attachmentFileIds,
      clientMessageId: m.clientMessageId,
      maxAttempts: 1,
      timeoutMs: attemptTimeoutMs,
    });
    return res.message;
  };

  const deliver = async (m: OutgoingMessage) => {
    const backoff = createBackoff({ initialMs: 400, maxMs: 6_000 });
    for (let n = 1; ; n++) {
      try {
        const stored = await attempt(m);
        m.status = "sent";
        m.stored = stored;
        m.error = undefined;
        messages.delete(m.clientMessageId);
        handlers.onUpdate(m);
        return;
      } catch (err) {
        const retryable =
          err instanceof ChatRequestError
            ? err.code === "unavailable" || err.code === "deadline_exceeded"
            : isTransientError(err) || ConnectError.from(err).code === Code.DeadlineExceeded;
        if (!retryable || n >= automaticAttempts) {
          m.status = "failed";
          m.error =
            err instanceof ChatRequestError ? err.message : ConnectError.from(err).rawMessage;
          handlers.onUpdate(m);
          return;
        }
        await sleep(backoff.next());
      }
    }
  };

  return {
    send(room, text, attachments = []) {
      const m: OutgoingMessage = {
        room,
        text,
        attachments: [...attachments],
        clientMessageId: newClientMessageId(),
        createdMs: Date.now(),
        status: "sending",
      };
      messages.set(m.clientMessageId, m);
      handlers.onUpdate(m);
      void deliver(m);
      return m;
    },
    retry(clientMessageId) {
      const m = messages.get(clientMessageId);
      if (m?.status !== "failed") return;
      m.status = "sending";
      m.error = undefined;
      handlers.onUpdate(m);
      void deliver(m);
    },
    get: (clientMessageId) => messages.get(clientMessageId),
  };
}
