/**
 * A connect-es `Transport` over the Switchboard WebSocket tunnel
 * (docs/tunnel.md): every RPC — unary, server, client and bidirectional
 * streaming — from a browser, where fetch cannot stream requests. All calls
 * of one transport share one WebSocket (multiplexed by stream id), opened on
 * the first call and reopened after it closes.
 *
 * Transport-agnostic: it uses the global `WebSocket` unless given a factory;
 * Node 20 has none, so Node programs use `createNodeTunnelTransport`
 * (node-tunnel-transport.ts, with `ws`).
 *
 * @module
 */
import type {
  DescMessage,
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type Interceptor,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import { createMethodUrl, runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";
import { startTunnelCall } from "./tunnel-call.js";
import { createTunnelConnection, type TunnelWebSocketFactory } from "./tunnel-connection.js";
import { tunnelPath } from "./tunnel-frame.js";

/** Settings of {@link createTunnelTransport}. */
export interface TunnelTransportOptions {
  /**
   * The server, `http(s)://host:port` (the tunnel path `/switchboard.tunnel.v1`
   * is appended and the scheme becomes `ws(s)`), or a full `ws(s)://` URL.
   */
  readonly baseUrl: string;
  /** Interceptors, outermost first (e.g. `createBearerInterceptor(token)`). */
  readonly interceptors?: Interceptor[];
  /** Deadline for calls without their own, in milliseconds. */
  readonly defaultTimeoutMs?: number;
  /** Opens the WebSocket. Default: `new WebSocket(url)` (browsers, Deno, Node ≥ 22). */
  readonly webSocket?: TunnelWebSocketFactory;
  /** Time to open the socket before calls fail with `unavailable`. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Keepalive probe interval while calls are open (0 disables). Default 30 s. */
  readonly pingIntervalMs?: number;
  /** The socket closes after this long without calls. Default 10 s. */
  readonly idleTimeoutMs?: number;
}

/** A connect-es transport over the tunnel, closable. */
export interface TunnelTransport extends Transport {
  /** Closes the WebSocket now; open calls fail with `unavailable`, the next call reconnects. */
  close(): void;
}

/**
 * Derives the tunnel's WebSocket URL from a base URL.
 *
 * @example
 * tunnelUrl("https://chat.example.com"); // "wss://chat.example.com/switchboard.tunnel.v1"
 */
export function tunnelUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new Error(`tunnel: unsupported URL scheme ${url.protocol}`);
  }
  if (!url.pathname.endsWith(tunnelPath))
    url.pathname = url.pathname.replace(/\/$/, "") + tunnelPath;
  return url.toString();
}

function defaultWebSocket(url: string) {
  const WS = (globalThis as { WebSocket?: new (url: string) => unknown }).WebSocket;
  if (WS === undefined) {
    throw new ConnectError(
      "tunnel: no global WebSocket; pass `webSocket` (in Node use createNodeTunnelTransport)",
      Code.Internal,
    );
  }
  return new WS(url) as ReturnType<TunnelWebSocketFactory>;
}

/**
 * Creates a transport that runs every call through the WebSocket tunnel. Use
 * it with `createClient` like any connect-es transport; the token goes in an
 * interceptor (it travels in the call's `open` frame, since browsers cannot
 * set WebSocket headers).
 *
 * @example
 * // In a browser (the web app). Import the browser-safe modules directly
 * // (index.ts also re-exports Node-only helpers).
 * import { createClient } from "@connectrpc/connect";
 * import { ChatService } from "../gen/switchboard/chat/v1/chat_pb.js";
 * import { createBearerInterceptor } from "../client/bearer-interceptor.js";
 * import { createSwitchboardCore } from "../client/core.js";
 * import { createTunnelTransport } from "../client/tunnel-transport.js";
 *
 * const transport = createTunnelTransport({
 *   baseUrl: location.origin,                        // → wss://host/switchboard.tunnel.v1
 *   interceptors: [createBearerInterceptor(() => token)],
 * });
 * const sb = createSwitchboardCore(createClient(ChatService, transport));
 *
 * const chat = sb.chat();                             // bidirectional, over the WebSocket
 * await chat.join("lobby");
 * await chat.send("lobby", "hello from the browser");
 * for await (const ev of chat.events) if (ev.case === "message") render(ev.value);
 *
 * // client streaming: a File from <input type="file">, streamed in chunks
 * const file = await sb.upload(
 *   { name: f.name, contentType: f.type, size: f.size, room: "lobby" },
 *   () => f.stream() as unknown as AsyncIterable<Uint8Array>,   // a function: retried on transient errors
 *   { onProgress: (sent, total) => showProgress(sent, total) },
 * );
 */
export function createTunnelTransport(options: TunnelTransportOptions): TunnelTransport {
  const connection = createTunnelConnection({
    url: tunnelUrl(options.baseUrl),
    webSocket: options.webSocket ?? defaultWebSocket,
    ...(options.connectTimeoutMs !== undefined
      ? { connectTimeoutMs: options.connectTimeoutMs }
      : {}),
    ...(options.pingIntervalMs !== undefined ? { pingIntervalMs: options.pingIntervalMs } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
  });
  const deadline = (timeoutMs: number | undefined) =>
    timeoutMs === undefined ? options.defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
  const common = <M extends DescMethodUnary | DescMethodStreaming>(
    method: M,
    header: HeadersInit | undefined,
    contextValues: ContextValues | undefined,
  ) => ({
    service: method.parent,
    method,
    requestMethod: "POST",
    url: createMethodUrl(options.baseUrl, method),
    header: new Headers(header),
    contextValues: contextValues ?? createContextValues(),
  });
  const path = (method: { parent: { typeName: string }; name: string }) =>
    `/${method.parent.typeName}/${method.name}`;

  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      message: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const ms = deadline(timeoutMs);
      return runUnaryCall<I, O>({
        interceptors: options.interceptors ?? [],
        signal,
        timeoutMs: ms,
        req: { stream: false, ...common(method, header, contextValues), message },
        next: async (req) => {
          const call = await startTunnelCall({
            connection,
            path: path(method),
            input: method.input,
            output: method.output,
            header: req.header,
            signal: req.signal,
            ...(ms !== undefined ? { timeoutMs: ms } : {}),
          });
          void call.sendAll(single(req.message));
          const resHeader = await call.header;
          let out: UnaryResponse<I, O>["message"] | undefined;
          for await (const m of call.messages) {
            if (out !== undefined) {
              throw new ConnectError(
                "protocol error: received extra output message",
                Code.Unimplemented,
              );
            }
            out = m;
          }
          if (out === undefined) {
            throw new ConnectError("protocol error: missing output message", Code.Unimplemented);
          }
          return {
            stream: false,
            service: method.parent,
            method,
            header: resHeader,
            message: out,
            trailer: call.trailer,
          };
        },
      });
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      const ms = deadline(timeoutMs);
      return runStreamingCall<I, O>({
        interceptors: options.interceptors ?? [],
        signal,
        timeoutMs: ms,
        req: { stream: true, ...common(method, header, contextValues), message: input },
        next: async (req) => {
          const call = await startTunnelCall({
            connection,
            path: path(method),
            input: method.input,
            output: method.output,
            header: req.header,
            signal: req.signal,
            ...(ms !== undefined ? { timeoutMs: ms } : {}),
          });
          void call.sendAll(req.message);
          const resHeader = await call.header;
          return { ...req, header: resHeader, trailer: call.trailer, message: call.messages };
        },
      });
    },
    close: () => connection.close(),
  };
}

async function* single<T>(value: T): AsyncGenerator<T> {
  yield value;
}
