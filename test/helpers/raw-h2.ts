/**
 * A raw gRPC-over-HTTP/2 client for tests that need control the SDK does not
 * give: a stream that stops reading (flow control), exact trailers, a
 * request whose body is sent later.
 */
import http2 from "node:http2";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";

/** Frames one gRPC message (uncompressed). */
export function grpcFrame(bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.byteLength, 1);
  return Buffer.concat([head, bytes]);
}

/** Encodes `message` of `schema` as one gRPC frame. */
export function encodeFrame<D extends DescMessage>(schema: D, message: MessageShape<D>): Buffer {
  return grpcFrame(toBinary(schema, message));
}

/** Splits a gRPC body into messages of `schema`; throws on a truncated frame. */
export function decodeFrames<D extends DescMessage>(schema: D, body: Buffer): MessageShape<D>[] {
  const out: MessageShape<D>[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) throw new Error("truncated gRPC frame header");
    const len = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < len) throw new Error("truncated gRPC frame");
    out.push(fromBinary(schema, body.subarray(at + 5, at + 5 + len)));
    at += 5 + len;
  }
  return out;
}

/** One raw call: the stream, and what arrived once it ended. */
export interface RawCall {
  readonly stream: http2.ClientHttp2Stream;
  /** Starts consuming the response (when opened with `flowing: false`). */
  startReading(): void;
  /** Resolves when the stream closes (trailers or reset). */
  readonly done: Promise<{
    headers: http2.IncomingHttpHeaders;
    trailers: http2.IncomingHttpHeaders;
    body: Buffer;
    rstCode: number;
  }>;
}

/**
 * Starts a gRPC call `method` of ChatService on `session`. The response is
 * collected as it arrives, or (with `flowing: false`) only after
 * `startReading()`: until then the client does not read, so HTTP/2 flow
 * control stops the server. `body` (already framed) is written and the
 * request ended, unless `body` is undefined (the caller writes later).
 */
export function rawCall(
  session: http2.ClientHttp2Session,
  method: string,
  token: string,
  body: Buffer | undefined,
  opts: { flowing?: boolean } = {},
): RawCall {
  const stream = session.request({
    ":method": "POST",
    ":path": `/switchboard.chat.v1.ChatService/${method}`,
    "content-type": "application/grpc+proto",
    te: "trailers",
    authorization: `Bearer ${token}`,
  });
  stream.on("error", () => {});
  if (body !== undefined) stream.end(body);
  const chunks: Buffer[] = [];
  let headers: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders = {};
  stream.on("response", (h) => {
    headers = h;
  });
  stream.on("trailers", (t) => {
    trailers = t;
  });
  const done = new Promise<{
    headers: http2.IncomingHttpHeaders;
    trailers: http2.IncomingHttpHeaders;
    body: Buffer;
    rstCode: number;
  }>((resolve) => {
    stream.on("close", () =>
      resolve({ headers, trailers, body: Buffer.concat(chunks), rstCode: stream.rstCode ?? 0 }),
    );
  });
  const collect = (c: Buffer) => chunks.push(c);
  if (opts.flowing !== false) stream.on("data", collect);
  return { stream, done, startReading: () => stream.on("data", collect) };
}

/** Opens an h2c session to `url` with optional local settings. */
export function connectH2(url: string, settings?: http2.Settings): http2.ClientHttp2Session {
  const session = http2.connect(url, settings ? { settings } : {});
  session.on("error", () => {});
  return session;
}
