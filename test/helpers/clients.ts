/**
 * Clients for end-to-end tests: one connect-node client per protocol variant
 * (gRPC over h2c, Connect over HTTP/1.1 and h2c, gRPC-Web over HTTP/1.1) and an
 * independent @grpc/grpc-js client loaded from the .proto with
 * @grpc/proto-loader. Every variant is exposed through the same connect-es
 * `Client<typeof ChatService>` shape, so a test loops over
 * {@link protocolVariants} and asserts once.
 *
 * @example
 * for (const variant of protocolVariants) {
 *   const c = variant.open(ts.url, token);
 *   try { await c.api.send({ room: "r", text: "hi" }); } finally { c.close(); }
 * }
 *
 * @module
 */
import * as http from "node:http";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type CallOptions,
  type Client,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import {
  type ChatRequestSchema,
  ChatService,
  type UploadRequestSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { grpcJsVariant } from "./grpc-js-client.js";

/** The connect-es client shape every variant exposes. */
export type ChatApi = Client<typeof ChatService>;
/** One Chat request frame, as given to `api.chat`. */
export type ChatFrame = MessageInitShape<typeof ChatRequestSchema>;
/** One Upload request message, as given to `api.upload`. */
export type UploadFrame = MessageInitShape<typeof UploadRequestSchema>;

/** Options for opening a test client. */
export interface OpenOptions {
  /** Extra request headers on every call (e.g. a forged `x-user`). */
  readonly headers?: Record<string, string>;
  /** Accept gzip responses (connect-node only; default: no compression accepted). */
  readonly acceptGzip?: boolean;
}

/** An open client; `close()` drops its connections. */
export interface TestClient {
  readonly variant: ProtocolVariant;
  readonly api: ChatApi;
  close(): void;
}

/** One way to talk to the server. */
export interface ProtocolVariant {
  /** e.g. "grpc/h2c", "connect/http1.1", "grpc-js". */
  readonly name: string;
  readonly library: "connect-node" | "grpc-js";
  /** Client streaming (Upload) is available. */
  readonly clientStreaming: boolean;
  /** Bidirectional streaming (Chat) is available. */
  readonly bidiStreaming: boolean;
  /** Opens a client; `token` undefined sends no authorization header. */
  open(baseUrl: string, token: string | undefined, opts?: OpenOptions): TestClient;
}

type Proto = "grpc" | "connect" | "grpc-web";

/**
 * connect-es stream iterables have no `return()`: leaving a `for await` early
 * does not end the call. Tests want `break` to cancel it (as grpc-js does), so
 * each streaming call gets its own AbortController that `return()` fires.
 */
function cancelOnReturn(client: ChatApi): ChatApi {
  const wrap =
    <A, R>(fn: (a: A, o?: CallOptions) => AsyncIterable<R>) =>
    (a: A, o: CallOptions = {}): AsyncIterable<R> => {
      const ac = new AbortController();
      const signal = o.signal ? AbortSignal.any([o.signal, ac.signal]) : ac.signal;
      const inner = fn(a, { ...o, signal })[Symbol.asyncIterator]();
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => inner.next(),
          return: async (value?: unknown) => {
            ac.abort();
            // A next() after the abort makes connect-es clear its deadline timer.
            await inner.next().catch(() => undefined);
            return { done: true as const, value: value as R };
          },
        }),
      };
    };
  return {
    ...client,
    subscribe: wrap(client.subscribe),
    download: wrap(client.download),
    chat: wrap(client.chat),
  };
}

function connectVariant(name: string, proto: Proto, httpVersion: "1.1" | "2"): ProtocolVariant {
  const h2 = httpVersion === "2";
  const variant: ProtocolVariant = {
    name,
    library: "connect-node",
    // connect-node docs (connectrpc.com/docs/node/using-clients): "With HTTP 1.1,
    // the gRPC protocol and bidirectional streaming are not supported." Client
    // streaming works over HTTP/1.1 (the request body is streamed, chunked).
    clientStreaming: true,
    bidiStreaming: h2,
    open(baseUrl, token, opts = {}) {
      const headers = { ...(opts.headers ?? {}) };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const auth: Interceptor = (next) => async (req) => {
        for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
        return next(req);
      };
      const interceptors = [auth];
      const acceptCompression = opts.acceptGzip ? [compressionGzip] : [];
      const agent = new http.Agent({ keepAlive: true });
      const sessionManager = h2 ? new Http2SessionManager(baseUrl) : undefined;
      const common = { baseUrl, interceptors, acceptCompression };
      const transport =
        proto === "grpc"
          ? createGrpcTransport({ ...common, sessionManager })
          : h2
            ? (proto === "connect" ? createConnectTransport : createGrpcWebTransport)({
                ...common,
                httpVersion: "2",
                sessionManager,
              })
            : (proto === "connect" ? createConnectTransport : createGrpcWebTransport)({
                ...common,
                httpVersion: "1.1",
                nodeOptions: { agent },
              });
      return {
        variant,
        api: cancelOnReturn(createClient(ChatService, transport)),
        close() {
          sessionManager?.abort();
          agent.destroy();
        },
      };
    },
  };
  return variant;
}

/** Every variant, connect-node first, grpc-js last. */
export const protocolVariants: readonly ProtocolVariant[] = [
  connectVariant("grpc/h2c", "grpc", "2"),
  connectVariant("connect/http1.1", "connect", "1.1"),
  connectVariant("connect/h2c", "connect", "2"),
  connectVariant("grpc-web/http1.1", "grpc-web", "1.1"),
  grpcJsVariant,
];

/** A push-driven async iterable for streaming requests (Upload, Chat). */
export interface Pushable<T> extends AsyncIterable<T> {
  push(value: T): void;
  end(): void;
}

/** Creates a {@link Pushable}. */
export function createPushable<T>(): Pushable<T> {
  const queue: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  return {
    push(v) {
      queue.push(v);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length > 0) yield queue.shift() as T;
        else if (ended) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Awaits `p`, expecting a ConnectError; returns it (fails if `p` resolves). */
export async function expectConnectError(
  p: Promise<unknown> | (() => Promise<unknown>),
): Promise<ConnectError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** Encodes one length-delimited protobuf field (wire type 2) from raw bytes. */
export function rawField(fieldNo: number, bytes: Uint8Array | string): Uint8Array {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  return Uint8Array.from([...varint((fieldNo << 3) | 2), ...varint(data.length), ...data]);
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** Result of {@link postConnectUnary}. */
export interface RawHttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Posts a hand-made binary body as a Connect unary call over HTTP/1.1 (no
 * keep-alive), bypassing every client library.
 */
export function postConnectUnary(
  baseUrl: string,
  method: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<RawHttpResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(`/switchboard.chat.v1.ChatService/${method}`, baseUrl),
      {
        method: "POST",
        agent: false,
        headers: { "content-type": "application/proto", ...headers },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("raw request timed out")));
    req.on("error", reject);
    req.end(Buffer.from(body));
  });
}

/** Pulls the next value of a stream, skipping those `skip` accepts; fails when the stream ends. */
export async function pull<T>(
  it: AsyncIterator<T>,
  skip: (value: T) => boolean = () => false,
): Promise<T> {
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error("stream ended unexpectedly");
    if (!skip(r.value)) return r.value;
  }
}

/** A room name unique to a test and a variant. */
export function roomFor(v: ProtocolVariant, tag: string): string {
  return `${tag}-${v.name.replace(/[^A-Za-z0-9]/g, "")}`;
}
