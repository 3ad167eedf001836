/**
 * The Node.js entry point of the SDK: a transport from connect-node with
 * bearer authentication, the core helpers, and the file helpers.
 *
 * @module
 */
import { createClient, type Interceptor } from "@connectrpc/connect";
import { ChatService, type FileInfo } from "../gen/switchboard/chat/v1/chat_pb.js";
import { createBearerInterceptor } from "./bearer-interceptor.js";
import { openChatSession } from "./chat-session.js";
import { createSwitchboardCore, type SwitchboardCore } from "./core.js";
import {
  type DownloadedFile,
  type DownloadFileOptions,
  downloadFile,
  type UploadFileOptions,
  uploadFile,
} from "./node-files.js";
import {
  createNodeTransport,
  type HttpVersion,
  type SwitchboardProtocol,
} from "./node-transport.js";
import { createNodeTunnelTransport } from "./node-tunnel-transport.js";

/** Options of {@link createSwitchboardClient}. */
export interface SwitchboardClientOptions {
  /** Server URL, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** Bearer token (a JWT from `switchboard token`). */
  readonly token: string;
  /** Default "grpc" (HTTP/2). */
  readonly protocol?: SwitchboardProtocol;
  /**
   * Connect and gRPC-Web default to "1.1" (except for Chat, which needs "2");
   * gRPC is always "2".
   */
  readonly httpVersion?: HttpVersion;
  /** Extra interceptors, run inside the bearer interceptor (outermost first). */
  readonly interceptors?: Interceptor[];
  /** Client-side deadline for unary calls without their own. */
  readonly defaultTimeoutMs?: number;
  /**
   * "tunnel": every call goes through the WebSocket tunnel (docs/tunnel.md)
   * instead of HTTP; `protocol` and `httpVersion` are then ignored. Default "http".
   */
  readonly transport?: "http" | "tunnel";
}

/** The Node.js SDK: core helpers plus file helpers. */
export interface SwitchboardClient extends SwitchboardCore {
  /** Uploads a file from disk. */
  uploadFile(path: string, options?: UploadFileOptions): Promise<FileInfo>;
  /** Downloads a file to disk, resuming and verifying its SHA-256. */
  downloadFile(
    fileId: string,
    path: string,
    options?: DownloadFileOptions,
  ): Promise<DownloadedFile>;
}

/**
 * Creates a Switchboard client for Node.js.
 *
 * @example
 * const sb = createSwitchboardClient({ baseUrl: "http://127.0.0.1:8080", token });
 * await sb.send("general", "hello");
 * for await (const ev of sb.subscribe([{ room: "general", from: { kind: "last", count: 10 } }])) {
 *   if (ev.type === "message") console.log(ev.message.text);
 * }
 */
export function createSwitchboardClient(options: SwitchboardClientOptions): SwitchboardClient {
  const transportOptions = {
    baseUrl: options.baseUrl,
    protocol: options.protocol,
    defaultTimeoutMs: options.defaultTimeoutMs,
    interceptors: [createBearerInterceptor(options.token), ...(options.interceptors ?? [])],
  };
  if (options.transport === "tunnel") {
    const tunnel = createNodeTunnelTransport(transportOptions);
    const tunnelCore = createSwitchboardCore(createClient(ChatService, tunnel));
    return {
      ...tunnelCore,
      uploadFile: (path, opts) => uploadFile(tunnelCore, path, opts),
      downloadFile: (fileId, path, opts) => downloadFile(tunnelCore, fileId, path, opts),
    };
  }
  const transport = createNodeTransport({ ...transportOptions, httpVersion: options.httpVersion });
  const core = createSwitchboardCore(createClient(ChatService, transport));
  // Bidirectional streaming needs HTTP/2: Connect and gRPC-Web default to
  // HTTP/1.1, so Chat gets its own HTTP/2 transport unless 1.1 was forced.
  const needsH2 = (options.protocol ?? "grpc") !== "grpc" && options.httpVersion === undefined;
  const chatRpc = needsH2
    ? createClient(ChatService, createNodeTransport({ ...transportOptions, httpVersion: "2" }))
    : core.rpc;
  return {
    ...core,
    chat: (opts) => openChatSession(chatRpc, opts),
    uploadFile: (path, opts) => uploadFile(core, path, opts),
    downloadFile: (fileId, path, opts) => downloadFile(core, fileId, path, opts),
  };
}
