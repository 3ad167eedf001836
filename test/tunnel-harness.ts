/**
 * Helpers of the tunnel tests: the SDK tunnel transport as a test client
 * variant (same shape as test/helpers/clients.ts), and a raw WebSocket
 * client that speaks frames by hand.
 *
 * @module
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { endStreamFromJson } from "@connectrpc/connect/protocol-connect";
import WebSocket, { type ClientOptions } from "ws";
import { createNodeTunnelTransport } from "../src/client/node-tunnel-transport.js";
import {
  decodeTunnelFrame,
  encodeTunnelFrame,
  encodeTunnelJsonFrame,
  TunnelFlag,
  type TunnelFrame,
  tunnelPath,
} from "../src/client/tunnel-frame.js";
import type { TunnelTransport } from "../src/client/tunnel-transport.js";
import { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { type ChatApi, type ProtocolVariant, waitFor } from "./helpers/clients.js";

/** A tunnel test client: the generated client plus its transport. */
export interface TunnelClient {
  readonly api: ChatApi;
  readonly transport: TunnelTransport;
  close(): void;
}

/** Opens a connect-es client over the SDK's Node tunnel transport. */
export function openTunnelClient(
  baseUrl: string,
  token: string | undefined,
  opts: { headers?: Record<string, string>; ws?: ClientOptions } = {},
): TunnelClient {
  const headers = { ...(opts.headers ?? {}) };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const auth: Interceptor = (next) => async (req) => {
    for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
    return next(req);
  };
  const transport = createNodeTunnelTransport({
    baseUrl,
    interceptors: [auth],
    ...(opts.ws ? { ws: opts.ws } : {}),
  });
  return { api: createClient(ChatService, transport), transport, close: () => transport.close() };
}

/** The tunnel as a {@link ProtocolVariant}, to run the e2e-style scenarios against. */
export const tunnelVariant: ProtocolVariant = {
  name: "tunnel",
  library: "connect-node",
  clientStreaming: true,
  bidiStreaming: true,
  open(baseUrl, token, opts = {}) {
    const c = openTunnelClient(baseUrl, token, opts.headers ? { headers: opts.headers } : {});
    return { variant: tunnelVariant, api: c.api, close: c.close };
  },
};

/** A raw tunnel socket for frame-level tests. */
export interface RawTunnel {
  readonly ws: WebSocket;
  /** Every frame received, in order (undecodable messages are kept as errors). */
  readonly frames: TunnelFrame[];
  send(streamId: number, flags: number, payload?: Uint8Array): void;
  sendJson(streamId: number, flags: number, value: unknown): void;
  sendBytes(bytes: Uint8Array | string): void;
  /** Opens a call with `method` (short name of ChatService, or a full path) and headers. */
  open(streamId: number, method: string, headers?: Record<string, string>): void;
  /** Resolves with the END of `streamId` (parsed), failing after a bounded wait. */
  end(streamId: number, timeoutMs?: number): Promise<{ error?: ConnectError; metadata: Headers }>;
  /** Messages received on `streamId` so far. */
  messages(streamId: number): Uint8Array[];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Connects a raw WebSocket to the tunnel endpoint of `baseUrl`. */
export async function openRawTunnel(baseUrl: string, opts: ClientOptions = {}): Promise<RawTunnel> {
  const url = `${baseUrl.replace(/^http/, "ws")}${tunnelPath}`;
  const ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
  const frames: TunnelFrame[] = [];
  ws.on("message", (data: Buffer) => frames.push(decodeTunnelFrame(new Uint8Array(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
  });
  ws.on("error", () => {});
  const raw: RawTunnel = {
    ws,
    frames,
    send: (id, flags, payload) => ws.send(encodeTunnelFrame(id, flags, payload)),
    sendJson: (id, flags, value) => ws.send(encodeTunnelJsonFrame(id, flags, value)),
    sendBytes: (bytes) => ws.send(bytes, { binary: typeof bytes !== "string" }),
    open(id, method, headers = {}) {
      const path = method.startsWith("/") ? method : `/${ChatService.typeName}/${method}`;
      raw.sendJson(id, TunnelFlag.open, { method: path, headers });
    },
    async end(id, timeoutMs = 10_000) {
      let found: TunnelFrame | undefined;
      await waitFor(
        `END of stream ${id}`,
        () => {
          found = frames.find((f) => f.streamId === id && f.flags === TunnelFlag.end);
          return found !== undefined;
        },
        timeoutMs,
      );
      const parsed = endStreamFromJson(found!.payload);
      return parsed.error ? { error: parsed.error, metadata: parsed.metadata } : parsed;
    },
    messages: (id) =>
      frames
        .filter((f) => f.streamId === id && f.flags === TunnelFlag.message)
        .map((f) => f.payload),
    closed,
    close: () => ws.close(),
  };
  return raw;
}

/** Awaits `p` and returns its ConnectError code (fails if it resolves). */
export async function codeOf(p: Promise<unknown>): Promise<Code> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e).code;
  }
  throw new Error("expected an error");
}

export { Code };
