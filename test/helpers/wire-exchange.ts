/**
 * Raw HTTP exchanges for wire-level comparisons: one request, and the whole
 * answer (status, headers but Date and connection management, body as hex,
 * trailers) as a plain object, over HTTP/2 (h2c) or HTTP/1.1; and a pair
 * of servers, with and without the fast path, to send it to.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { mintToken } from "../../src/auth/tokens.js";
import { createMemoryBackend } from "../../src/backend/memory/index.js";
import { defaultServerConfig } from "../../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../../src/server/serve.js";
import { createChatService } from "../../src/service/chat-service.js";

/** What came back, comparable with deepEqual. */
export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
  trailers: Record<string, unknown>;
}

/** Headers without the ones that differ per response (Date, connection management). */
function clean(h: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(h).sort()) {
    if (k === "date" || k === ":status" || k === "connection" || k === "keep-alive") continue;
    out[k] = h[k];
  }
  return out;
}

export function h2Exchange(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  opts: { endApart?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, ...headers });
    let status = 0;
    let head: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      head = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("close", () => {
      session.close();
      resolve({
        status,
        headers: clean(head),
        body: Buffer.concat(chunks).toString("hex"),
        trailers: clean(trailers),
      });
    });
    stream.on("error", reject);
    if (!opts.endApart) {
      stream.end(body);
      return;
    }
    // END_STREAM in an empty DATA frame of its own, after the body was read.
    stream.write(body, () => setTimeout(() => stream.end(), 20));
  });
}

export function h1Exchange(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: "POST", path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: clean(res.headers),
            body: Buffer.concat(chunks).toString("hex"),
            trailers: clean(res.trailers),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Two servers with the same routes and secret, one with the fast path and one without. */
export interface ServerPair {
  readonly fast: SwitchboardServer;
  readonly library: SwitchboardServer;
  /** A token both accept. */
  readonly token: string;
  close(): Promise<void>;
}

/**
 * Starts the real server stack twice on the memory backend: with and
 * without the fast path (src/server/fast/).
 *
 * @example
 * const pair = await startServerPair((router) => router.service(TestService, impl));
 */
export async function startServerPair(
  routes: (router: ConnectRouter) => void,
): Promise<ServerPair> {
  const secret = new Uint8Array(randomBytes(32));
  const start = (fastPath: boolean) => {
    const backend = createMemoryBackend();
    return serveChatService({
      config: { ...defaultServerConfig, host: "127.0.0.1", port: 0, logLevel: "warn" },
      secret,
      backend,
      service: createChatService({ backend }),
      routes,
      fastPath,
      errorLog: () => {},
    });
  };
  const fast = await start(true);
  const library = await start(false);
  const token = await mintToken(secret, { subject: "wire", rooms: ["*"] });
  return {
    fast,
    library,
    token,
    async close() {
      await fast.close();
      await library.close();
    },
  };
}

/** A gRPC message envelope: flags, 4-byte length, the bytes. */
export function envelope(bytes: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(bytes.byteLength, 1);
  return Buffer.concat([head, bytes]);
}

/** gRPC request headers with a bearer token, plus `extra`. */
export const grpcHeaders = (token: string, extra: Record<string, string> = {}) => ({
  "content-type": "application/grpc",
  te: "trailers",
  authorization: `Bearer ${token}`,
  ...extra,
});

/** Connect request headers of content type `type` with a bearer token, plus `extra`. */
export const connectHeaders = (
  type: string,
  token: string,
  extra: Record<string, string> = {},
) => ({
  "content-type": type,
  "connect-protocol-version": "1",
  authorization: `Bearer ${token}`,
  ...extra,
});
