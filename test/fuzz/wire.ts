/**
 * Raw wire helpers for the fuzzer, below every client library: protobuf
 * fields, gRPC envelopes, HTTP/2 requests through `node:http2` with full
 * control of headers and body, and HTTP/1.1 byte exchanges over a bare
 * socket. Every helper has a timeout, so a server that stalls fails the case
 * instead of hanging the run.
 *
 * @module
 */
import http2 from "node:http2";
import net from "node:net";

/** Encodes an unsigned integer (up to 2^53) as a protobuf varint. */
export function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** A protobuf tag (field number and wire type). */
export function tag(field: number, wireType: number): Uint8Array {
  return varint(field * 8 + wireType);
}

/** A length-delimited field (wire type 2). */
export function lenField(field: number, data: Uint8Array | string): Uint8Array {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  return concat(tag(field, 2), varint(bytes.length), bytes);
}

/** A varint field (wire type 0). */
export function varintField(field: number, n: number): Uint8Array {
  return concat(tag(field, 0), varint(n));
}

/** A gRPC / gRPC-Web / Connect-streaming envelope: flags, 4-byte big-endian length, body. */
export function envelope(flags: number, body: Uint8Array, length = body.length): Uint8Array {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(length >>> 0, 1);
  return concat(head, body);
}

/** What an HTTP/2 request got back. */
export interface H2Response {
  /** `:status`, or undefined when the stream ended without a response. */
  status?: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
  /** How the stream ended when it did not end cleanly (e.g. `RST_STREAM 2`). */
  reset?: string;
}

/** One HTTP/2 request. */
export interface H2Request {
  headers: http2.OutgoingHttpHeaders;
  /** Body chunks, written in order. */
  body: readonly Uint8Array[];
  /** Keep the request open after the body (no END_STREAM). */
  keepOpen?: boolean;
  timeoutMs?: number;
}

/**
 * Sends one request on `session` and collects the response. Resolves on
 * stream close; rejects only on timeout.
 */
export function h2Request(session: http2.ClientHttp2Session, r: H2Request): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const res: H2Response = { headers: {}, trailers: {}, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(r.headers, { endStream: false });
    } catch (e) {
      reject(e);
      return;
    }
    const timeoutMs = r.timeoutMs ?? 10_000;
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`no complete response within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on("error", (e: Error) => {
      res.reset ??= e.message;
    });
    stream.on("response", (h) => {
      res.headers = h;
      res.status = Number(h[":status"]);
    });
    stream.on("trailers", (t) => {
      res.trailers = t;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.body = Buffer.concat(chunks);
      resolve(res);
    };
    // The response is complete at "end", even while our side is still open.
    stream.on("end", () => {
      finish();
      stream.close();
    });
    stream.on("close", () => {
      if (
        !done &&
        stream.rstCode !== undefined &&
        stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR
      ) {
        res.reset ??= `RST_STREAM ${stream.rstCode}`;
      }
      if (!done && res.status === undefined)
        res.reset ??= `closed without a response (rstCode ${stream.rstCode})`;
      finish();
    });
    for (const chunk of r.body) stream.write(chunk);
    if (!r.keepOpen) stream.end();
  });
}

/** Opens an h2c session (prior knowledge) and waits until it is connected. */
export function h2Connect(url: string, timeoutMs = 10_000): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`h2c connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    session.once("connect", () => {
      clearTimeout(timer);
      session.off("error", reject);
      session.on("error", () => {});
      resolve(session);
    });
    session.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** What a raw socket exchange got back. */
export interface RawReply {
  /** Every byte the server sent, as latin1. */
  text: string;
  /** The server closed the connection (as opposed to the exchange timing out). */
  closed: boolean;
  /** The socket error that ended the exchange, e.g. ECONNRESET. */
  error?: string;
}

/**
 * Connects, writes `bytes` (in the given chunks), optionally half-closes,
 * and collects what the server sends until it closes, `done` says the reply
 * is complete, or `waitMs` elapse.
 */
export function rawExchange(
  port: number,
  chunks: readonly Uint8Array[],
  opts: { end: boolean; waitMs: number; done?: (text: string) => boolean },
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    let settled = false;
    let error: string | undefined;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(error === undefined ? { text, closed } : { text, closed, error });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs);
    socket.setEncoding("latin1");
    socket.on("data", (s: string) => {
      text += s;
      if (opts.done?.(text)) finish(false);
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      // A reset by the server is a close; failing to connect is not.
      if (e.code === "ECONNREFUSED") {
        settled = true;
        clearTimeout(timer);
        reject(e);
      } else {
        error = e.code ?? e.message;
        finish(true);
      }
    });
    socket.on("close", () => finish(true));
    socket.once("connect", () => {
      for (const c of chunks) socket.write(c);
      if (opts.end) socket.end();
    });
  });
}
