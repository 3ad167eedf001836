/**
 * The independent client of the end-to-end tests: @grpc/grpc-js with the
 * ChatService definition loaded from the .proto by @grpc/proto-loader, and
 * its wrapper in the connect-es client shape ({@link grpcJsVariant}), which
 * converts messages between protobuf-es and proto-loader objects.
 *
 * @example
 * const g = createGrpcJsClient(ts.url, token);
 * try { await g.unary("Send", { room: "r", text: "hi" }); } finally { g.close(); }
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { create, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { type CallOptions, Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ChatService } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import type { ChatApi, ProtocolVariant } from "./clients.js";

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
