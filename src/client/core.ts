/**
 * The transport-agnostic SDK: every helper bound to one ChatService client.
 * Node programs get it through `createSwitchboardClient`; a browser app builds
 * the client with connect-web and calls {@link createSwitchboardCore}.
 *
 * @module
 */
import type {
  FileInfo,
  HistoryResponse,
  SendResponse,
} from "../gen/switchboard/chat/v1/chat_pb.js";
import type { ChatClient } from "./chat-client.js";
import { type ChatSession, type ChatSessionOptions, openChatSession } from "./chat-session.js";
import {
  type DownloadOptions,
  type DownloadSink,
  downloadWithResume,
  fetchFileInfo,
} from "./download.js";
import { fetchHistory, type HistoryOptions } from "./history.js";
import { type SendOptions, sendWithRetry } from "./send.js";
import {
  type RoomSubscription,
  type SubscribeOptions,
  type SubscriptionEvent,
  subscribeWithResume,
} from "./subscribe.js";
import { type UploadMeta, type UploadOptions, type UploadSource, uploadStream } from "./upload.js";

/** The SDK's helpers over one ChatService client. */
export interface SwitchboardCore {
  /** The raw generated client, for calls the helpers do not cover. */
  readonly rpc: ChatClient;
  /** Sends a message with retry and a stable idempotency key. */
  send(room: string, text: string, options?: SendOptions): Promise<SendResponse>;
  /** Follows rooms, resuming without gap or duplicate after failures. */
  subscribe(
    rooms: readonly RoomSubscription[],
    options?: SubscribeOptions,
  ): AsyncGenerator<SubscriptionEvent, void, undefined>;
  /** Uploads a file in chunks of at most 256 KiB. */
  upload(meta: UploadMeta, source: UploadSource, options?: UploadOptions): Promise<FileInfo>;
  /** Downloads a file into a sink, resuming after transient failures. */
  download(fileId: string, sink: DownloadSink, options?: DownloadOptions): Promise<FileInfo>;
  /** Fetches a file's description without its content. */
  fileInfo(fileId: string, options?: { signal?: AbortSignal }): Promise<FileInfo>;
  /** Fetches one page of history. */
  history(room: string, options?: HistoryOptions): Promise<HistoryResponse>;
  /** Opens an interactive Chat stream. */
  chat(options?: ChatSessionOptions): ChatSession;
}

/**
 * Binds the SDK helpers to a ChatService client built on any transport.
 *
 * @example
 * import { createConnectTransport } from "@connectrpc/connect-web";
 * const core = createSwitchboardCore(createClient(ChatService, createConnectTransport({ baseUrl })));
 */
export function createSwitchboardCore(rpc: ChatClient): SwitchboardCore {
  return {
    rpc,
    send: (room, text, options) => sendWithRetry(rpc, room, text, options),
    subscribe: (rooms, options) => subscribeWithResume(rpc, rooms, options),
    upload: (meta, source, options) => uploadStream(rpc, meta, source, options),
    download: (fileId, sink, options) => downloadWithResume(rpc, fileId, sink, options),
    fileInfo: (fileId, options) => fetchFileInfo(rpc, fileId, options),
    history: (room, options) => fetchHistory(rpc, room, options),
    chat: (options) => openChatSession(rpc, options),
  };
}
