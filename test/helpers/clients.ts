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
import { fileURLToPath } from "node:url";
import {
  create,
  type DescField,
  type DescMessage,
  type MessageInitShape,
  ScalarType,
} from "@bufbuild/protobuf";
import {
  type CallOptions,
  type Client,
  Code,
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
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  type ChatRequestSchema,
  ChatService,
  type UploadRequestSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";

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

const protoRoot = fileURLToPath(new URL("../../proto", import.meta.url));
const serviceDef = (
  grpc.loadPackageDefinition(
    protoLoader.loadSync("switchboard/chat/v1/chat.proto", {
      includeDirs: [protoRoot],
      keepCase: false,
      longs: String,
      defaults: true,
      oneofs: true,
    }),
    // biome-ignore lint/suspicious/noExplicitAny: proto-loader output is untyped
  ) as any
).switchboard.chat.v1.ChatService as grpc.ServiceClientConstructor;

/** Plain object as produced/consumed by @grpc/proto-loader. */
export type LoaderObject = Record<string, unknown>;

/** Per-call options of the grpc-js wrappers. */
export interface GrpcCallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly headers?: Record<string, string>;
}

/** Thin promise/async-iterator wrappers over a grpc-js ChatService client. */
export interface GrpcJsClient {
  unary(method: "Send" | "History", req: LoaderObject, o?: GrpcCallOptions): Promise<LoaderObject>;
  serverStream(
    method: "Subscribe" | "Download",
    req: LoaderObject,
    o?: GrpcCallOptions,
  ): AsyncIterable<LoaderObject>;
  clientStream(
    method: "Upload",
    reqs: AsyncIterable<LoaderObject> | Iterable<LoaderObject>,
    o?: GrpcCallOptions,
  ): Promise<LoaderObject>;
  bidi(
    method: "Chat",
    reqs: AsyncIterable<LoaderObject> | Iterable<LoaderObject>,
    o?: GrpcCallOptions,
  ): AsyncIterable<LoaderObject>;
  /** Client-streaming call with hand-made protobuf bodies; returns raw response bytes. */
  rawClientStream(method: "Upload", bodies: Uint8Array[], o?: GrpcCallOptions): Promise<Buffer>;
  /** Unary call with a hand-made protobuf body (e.g. invalid UTF-8); returns raw response bytes. */
  rawUnary(method: "Send" | "History", body: Uint8Array, o?: GrpcCallOptions): Promise<Buffer>;
  close(): void;
}

/** grpc-js errors become ConnectErrors with the same code (gRPC and Connect codes coincide). */
function toConnectError(e: unknown): ConnectError {
  const se = e as Partial<grpc.ServiceError>;
  if (typeof se?.code === "number" && se.code > 0) {
    return new ConnectError(se.details ?? "", se.code as unknown as Code, undefined, undefined, e);
  }
  return ConnectError.from(e, Code.Unknown);
}

/** Opens a grpc-js client for `baseUrl` (http://host:port), adding the bearer token. */
export function createGrpcJsClient(baseUrl: string, token: string | undefined): GrpcJsClient {
  const client = new serviceDef(new URL(baseUrl).host, grpc.credentials.createInsecure());
  const raw = client as unknown as Record<string, (...a: unknown[]) => grpc.Call>;
  const prepare = (o: GrpcCallOptions = {}) => {
    const md = new grpc.Metadata();
    if (token !== undefined) md.set("authorization", `Bearer ${token}`);
    for (const [k, v] of Object.entries(o.headers ?? {})) md.set(k, v);
    const opts: grpc.CallOptions = {};
    if (o.timeoutMs !== undefined) opts.deadline = Date.now() + o.timeoutMs;
    return { md, opts };
  };
  const onAbort = (o: GrpcCallOptions | undefined, call: grpc.Call) => {
    if (o?.signal?.aborted) call.cancel();
    o?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
  };
  const pump = async (
    call: grpc.ClientWritableStream<unknown>,
    reqs: AsyncIterable<LoaderObject> | Iterable<LoaderObject>,
    done: Promise<unknown>,
  ) => {
    let finished = false;
    done.then(
      () => {
        finished = true;
      },
      () => {
        finished = true;
      },
    );
    try {
      for await (const r of reqs) {
        if (finished) return;
        if (!call.write(r)) {
          await Promise.race([new Promise((res) => call.once("drain", res)), done.catch(() => {})]);
        }
      }
      if (!finished) call.end();
    } catch {
      call.cancel();
    }
  };
  async function* iterate(call: grpc.ClientReadableStream<LoaderObject>) {
    try {
      for await (const m of call) yield m as LoaderObject;
    } catch (e) {
      throw toConnectError(e);
    } finally {
      call.cancel();
    }
  }
  return {
    unary(method, req, o) {
      const { md, opts } = prepare(o);
      return new Promise((resolve, reject) => {
        const call = raw[method](req, md, opts, (err: unknown, res: LoaderObject) =>
          err ? reject(toConnectError(err)) : resolve(res),
        );
        onAbort(o, call);
      });
    },
    serverStream(method, req, o) {
      const { md, opts } = prepare(o);
      const call = raw[method](req, md, opts) as grpc.ClientReadableStream<LoaderObject>;
      onAbort(o, call);
      return iterate(call);
    },
    clientStream(method, reqs, o) {
      const { md, opts } = prepare(o);
      let call!: grpc.ClientWritableStream<unknown>;
      const done = new Promise<LoaderObject>((resolve, reject) => {
        call = raw[method](md, opts, (err: unknown, res: LoaderObject) =>
          err ? reject(toConnectError(err)) : resolve(res),
        ) as grpc.ClientWritableStream<unknown>;
      });
      onAbort(o, call);
      void pump(call, reqs, done);
      return done;
    },
    bidi(method, reqs, o) {
      const { md, opts } = prepare(o);
      const call = raw[method](md, opts) as grpc.ClientDuplexStream<unknown, LoaderObject>;
      onAbort(o, call);
      const done = new Promise((res) => call.once("close", res));
      void pump(call, reqs, done);
      return iterate(call);
    },
    rawUnary(method, body, o) {
      const { md, opts } = prepare(o);
      const id = (b: Buffer) => b;
      return new Promise((resolve, reject) => {
        const call = client.makeUnaryRequest(
          `/switchboard.chat.v1.ChatService/${method}`,
          id,
          id,
          Buffer.from(body),
          md,
          opts,
          (err, res) => (err ? reject(toConnectError(err)) : resolve(res as Buffer)),
        );
        onAbort(o, call);
      });
    },
    rawClientStream(method, bodies, o) {
      const { md, opts } = prepare(o);
      const id = (b: Buffer) => b;
      return new Promise((resolve, reject) => {
        const call = client.makeClientStreamRequest(
          `/switchboard.chat.v1.ChatService/${method}`,
          id,
          id,
          md,
          opts,
          (err, res) => (err ? reject(toConnectError(err)) : resolve(res as Buffer)),
        );
        for (const b of bodies) call.write(Buffer.from(b));
        call.end();
      });
    },
    close: () => client.close(),
  };
}

const is64 = (t: ScalarType) =>
  [
    ScalarType.INT64,
    ScalarType.UINT64,
    ScalarType.SINT64,
    ScalarType.FIXED64,
    ScalarType.SFIXED64,
  ].includes(t);

function fieldToLoader(f: DescField, v: unknown): unknown {
  if (f.fieldKind === "list") return (v as unknown[]).map((x) => listItem(f, x, true));
  if (f.fieldKind === "message") return toLoader(f.message, v as LoaderObject);
  if (f.fieldKind === "scalar") return scalar(f.scalar, v, true);
  return v;
}
function listItem(f: DescField & { fieldKind: "list" }, x: unknown, out: boolean): unknown {
  if (f.listKind === "message")
    return out ? toLoader(f.message, x as LoaderObject) : fromLoader(f.message, x as LoaderObject);
  if (f.listKind === "scalar") return scalar(f.scalar, x, out);
  return x;
}
function scalar(t: ScalarType, v: unknown, out: boolean): unknown {
  if (is64(t)) return out ? String(v) : BigInt(v as string);
  if (t === ScalarType.BYTES)
    return out ? Buffer.from(v as Uint8Array) : new Uint8Array(v as Buffer);
  return v;
}

/** Converts a protobuf-es message (or init) into a proto-loader object. */
export function toLoader(desc: DescMessage, init: LoaderObject): LoaderObject {
  const msg = create(desc, init) as unknown as LoaderObject;
  const out: LoaderObject = {};
  for (const f of desc.fields) {
    let v: unknown = msg[f.localName];
    if (f.oneof) {
      const o = msg[f.oneof.localName] as { case?: string; value?: unknown };
      if (o.case !== f.localName) continue;
      v = o.value;
    }
    if (v !== undefined) out[f.localName] = fieldToLoader(f, v);
  }
  return out;
}

/** Converts a proto-loader object into a protobuf-es message. */
export function fromLoader<T>(desc: DescMessage, obj: LoaderObject): T {
  const init: LoaderObject = {};
  for (const f of desc.fields) {
    const v = obj[f.localName];
    if (v === undefined || v === null) continue;
    let c: unknown = v;
    if (f.fieldKind === "list") c = (v as unknown[]).map((x) => listItem(f, x, false));
    else if (f.fieldKind === "message") c = fromLoader(f.message, v as LoaderObject);
    else if (f.fieldKind === "scalar") c = scalar(f.scalar, v, false);
    if (f.oneof) {
      if (obj[f.oneof.localName] !== f.localName) continue;
      init[f.oneof.localName] = { case: f.localName, value: c };
    } else init[f.localName] = c;
  }
  return create(desc, init) as T;
}

async function* mapAsync<A, B>(
  src: AsyncIterable<A> | Iterable<A>,
  fn: (a: A) => B,
): AsyncIterable<B> {
  for await (const a of src) yield fn(a);
}

function headerRecord(extra: Record<string, string>, h: HeadersInit | undefined) {
  const out = { ...extra };
  new Headers(h).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

/** Wraps grpc-js in the connect-es client shape, converting messages both ways. */
function grpcJsApi(g: GrpcJsClient, extra: Record<string, string>): ChatApi {
  const m = ChatService.method;
  const o = (c?: CallOptions): GrpcCallOptions => ({
    timeoutMs: c?.timeoutMs,
    signal: c?.signal,
    headers: headerRecord(extra, c?.headers),
  });
  const api = {
    send: async (r: LoaderObject, c?: CallOptions) =>
      fromLoader(m.send.output, await g.unary("Send", toLoader(m.send.input, r), o(c))),
    history: async (r: LoaderObject, c?: CallOptions) =>
      fromLoader(m.history.output, await g.unary("History", toLoader(m.history.input, r), o(c))),
    subscribe: (r: LoaderObject, c?: CallOptions) =>
      mapAsync(g.serverStream("Subscribe", toLoader(m.subscribe.input, r), o(c)), (x) =>
        fromLoader(m.subscribe.output, x),
      ),
    download: (r: LoaderObject, c?: CallOptions) =>
      mapAsync(g.serverStream("Download", toLoader(m.download.input, r), o(c)), (x) =>
        fromLoader(m.download.output, x),
      ),
    upload: async (rs: AsyncIterable<LoaderObject>, c?: CallOptions) =>
      fromLoader(
        m.upload.output,
        await g.clientStream(
          "Upload",
          mapAsync(rs, (x) => toLoader(m.upload.input, x)),
          o(c),
        ),
      ),
    chat: (rs: AsyncIterable<LoaderObject>, c?: CallOptions) =>
      mapAsync(
        g.bidi(
          "Chat",
          mapAsync(rs, (x) => toLoader(m.chat.input, x)),
          o(c),
        ),
        (x) => fromLoader(m.chat.output, x),
      ),
  };
  return api as unknown as ChatApi;
}

/** The independent grpc-js client as a variant. */
export const grpcJsVariant: ProtocolVariant = {
  name: "grpc-js",
  library: "grpc-js",
  clientStreaming: true,
  bidiStreaming: true,
  open(baseUrl, token, opts = {}) {
    const g = createGrpcJsClient(baseUrl, token);
    return {
      variant: grpcJsVariant,
      api: grpcJsApi(g, opts.headers ?? {}),
      close: () => g.close(),
    };
  },
};

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
