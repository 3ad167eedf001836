/**
 * Switchboard SDK. `createSwitchboardClient` for Node.js; the transport-agnostic
 * helpers (`createSwitchboardCore` and the functions it binds) for any
 * connect-es transport.
 *
 * @module
 */
export { type Backoff, type BackoffOptions, createBackoff, sleep } from "./backoff.js";
export { createBearerInterceptor } from "./bearer-interceptor.js";
export type { ChatClient } from "./chat-client.js";
export { type ChatEvent, type ChatSession, openChatSession } from "./chat-session.js";
export { createSwitchboardCore, type SwitchboardCore } from "./core.js";
export {
  createSwitchboardClient,
  type SwitchboardClient,
  type SwitchboardClientOptions,
} from "./create-client.js";
export {
  type DownloadOptions,
  type DownloadSink,
  downloadWithResume,
  fetchFileInfo,
} from "./download.js";
export {
  ChatRequestError,
  ChecksumMismatchError,
  errorCodeName,
  isTerminalError,
  isTransientError,
} from "./errors.js";
export { fetchHistory, type HistoryOptions } from "./history.js";
export { downloadFile, downloadVerified, guessContentType, uploadFile } from "./node-files.js";
export {
  createNodeTransport,
  type HttpVersion,
  type SwitchboardProtocol,
} from "./node-transport.js";
export {
  createNodeTunnelTransport,
  type NodeTunnelTransportOptions,
} from "./node-tunnel-transport.js";
export { type SendOptions, sendWithRetry } from "./send.js";
export {
  type RoomSubscription,
  type StartPosition,
  type SubscribeOptions,
  type SubscriptionEvent,
  subscribeWithResume,
} from "./subscribe.js";
export type { TunnelWebSocket, TunnelWebSocketFactory } from "./tunnel-connection.js";
export {
  decodeTunnelFrame,
  encodeTunnelFrame,
  TunnelFlag,
  type TunnelFrame,
  tunnelPath,
} from "./tunnel-frame.js";
export {
  createTunnelTransport,
  type TunnelTransport,
  type TunnelTransportOptions,
  tunnelUrl,
} from "./tunnel-transport.js";
export { rechunk, type UploadMeta, type UploadOptions, uploadStream } from "./upload.js";
