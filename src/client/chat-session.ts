/**
 * Chat session: the bidirectional Chat stream as promise-returning
 * join/leave/send calls (matched to their replies by request id) plus an
 * iterator of everything the server sends.
 *
 * @module
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type ChatRequest,
  ChatRequestSchema,
  type ChatResponse,
  type RoomJoined,
  type RoomLeft,
  type SendAck,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import { createAsyncQueue } from "./async-queue.js";
import type { ChatClient } from "./chat-client.js";
import { ChatRequestError } from "./errors.js";
import { createRoomCursor, cursorPosition, type StartPosition } from "./room-cursor.js";

/** One frame from the server: joined, left, message, ack, error, presence or heartbeat. */
export type ChatEvent = Exclude<ChatResponse["event"], { case: undefined }>;

/** Options of {@link openChatSession}. */
export interface ChatSessionOptions {
  /** Ends the session. */
  readonly signal?: AbortSignal;
}

/** An open Chat stream. */
export interface ChatSession {
  /** Joins a room (default: from the latest message); resolves with the room's state and members. */
  join(room: string, from?: StartPosition): Promise<RoomJoined>;
  /** Leaves a room. */
  leave(room: string): Promise<RoomLeft>;
  /** Sends a message; resolves once it is stored. A random client_message_id is used when none is given. */
  send(
    room: string,
    text: string,
    options?: { attachmentFileIds?: readonly string[]; clientMessageId?: string },
  ): Promise<SendAck>;
  /** Every frame from the server, replies included, in order. Ends when the stream ends. */
  readonly events: AsyncIterable<ChatEvent>;
  /** Resolves when the stream ends normally, rejects with its error otherwise. */
  readonly done: Promise<void>;
  /** Half-closes the stream: the server finishes and the events end. */
  close(): void;
}

type Pending = { resolve: (value: ChatEvent["value"]) => void; reject: (err: unknown) => void };

/**
 * Opens a Chat stream. Failed frames reject their promise with a
 * {@link ChatRequestError}; the stream goes on.
 *
 * @example
 * const chat = openChatSession(client);
 * await chat.join("general");
 * await chat.send("general", "hello");
 * for await (const ev of chat.events) if (ev.case === "message") console.log(ev.value.text);
 */
export function openChatSession(client: ChatClient, options: ChatSessionOptions = {}): ChatSession {
  const requests = createAsyncQueue<ChatRequest>();
  const events = createAsyncQueue<ChatEvent>();
  const pending = new Map<string, Pending>();
  let nextId = 1;

  const request = <T extends ChatEvent["value"]>(
    action: MessageInitShape<typeof ChatRequestSchema>["action"],
  ): Promise<T> => {
    if (requests.ended) {
      return Promise.reject(new ConnectError("chat session closed", Code.Canceled));
    }
    const requestId = `r${nextId++}`;
    return new Promise<T>((resolve, reject) => {
      pending.set(requestId, { resolve: resolve as Pending["resolve"], reject });
      requests.push(create(ChatRequestSchema, { requestId, action }));
    });
  };

  const settle = (requestId: string, outcome: (p: Pending) => void) => {
    const p = pending.get(requestId);
    if (!p) return;
    pending.delete(requestId);
    outcome(p);
  };

  const done = (async () => {
    let failure: unknown = new ConnectError("chat stream ended", Code.Canceled);
    try {
      for await (const res of client.chat(requests, { signal: options.signal })) {
        const event = res.event;
        if (event.case === undefined) continue;
        switch (event.case) {
          case "joined":
          case "left":
          case "ack":
            settle(event.value.requestId, (p) => p.resolve(event.value));
            break;
          case "error":
            settle(event.value.requestId, (p) =>
              p.reject(
                new ChatRequestError(event.value.code, event.value.message, event.value.room),
              ),
            );
            break;
        }
        events.push(event);
      }
      events.end();
    } catch (err) {
      failure = err;
      events.end(err);
      throw err;
    } finally {
      requests.end();
      for (const p of pending.values()) p.reject(failure);
      pending.clear();
    }
  })();
  // The caller observes failures through `done`, `events` or the pending promises.
  done.catch(() => {});

  return {
    join: (room, from = { kind: "latest" }) =>
      request<RoomJoined>({
        case: "join",
        value: { position: cursorPosition(createRoomCursor(room, from)) },
      }),
    leave: (room) => request<RoomLeft>({ case: "leave", value: { room } }),
    send: (room, text, opts = {}) =>
      request<SendAck>({
        case: "send",
        value: {
          room,
          text,
          attachmentFileIds: [...(opts.attachmentFileIds ?? [])],
          clientMessageId: opts.clientMessageId ?? globalThis.crypto.randomUUID(),
        },
      }),
    events,
    done,
    close: () => requests.end(),
  };
}
