/**
 * The load process of the upload/download benchmark (run pinned to the load
 * CPU by bench/scenarios/transfer.ts through fanout-child.ts). It generates
 * the file while sending it, so it never holds the whole file in memory, and
 * hashes what it downloads.
 *
 * Commands (see fanout-commands.ts for the protocol), each with
 * `{protocol: "grpc" | "raw", baseUrl, token?}`:
 * - `upload {bytes}` → `{fileId, seconds, sha256, serverSha256?, size}`:
 *   gRPC ChatService.Upload (metadata, then 256 KiB chunks, as the SDK
 *   sends them), or a raw HTTP/2 `POST /upload` of the same 256 KiB writes.
 *   `sha256` is of the bytes sent, computed before the timed transfer.
 * - `download {fileId}` → `{seconds, sha256, bytes}`: ChatService.Download,
 *   or `GET /files/<id>`; the bytes are hashed as they arrive.
 *
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { uploadChunkBytes } from "../../src/client/upload.js";
import {
  ChatService,
  type UploadRequest,
  UploadRequestSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { serveCommands } from "./fanout-commands.js";

/** Where a command goes. */
interface Target {
  readonly protocol: "grpc" | "raw";
  readonly baseUrl: string;
  readonly token?: string;
}

/** Random bytes the file is cut from: chunk i is a window of it, stamped with i. */
const block = randomBytes(4 * 1024 * 1024);

/** Chunk `i` of every generated file (the last one cut to `length`). */
function chunkAt(i: number, length: number): Buffer {
  const chunk = Buffer.allocUnsafe(length);
  const offset = (i * 65_537) % (block.byteLength - uploadChunkBytes);
  block.copy(chunk, 0, offset, offset + length);
  if (length >= 4) chunk.writeUInt32BE(i >>> 0, 0);
  return chunk;
}

/** The generated file of `bytes` bytes, in chunks of {@link uploadChunkBytes}. */
function* fileChunks(bytes: number): Generator<Buffer> {
  for (let i = 0, sent = 0; sent < bytes; i++) {
    const length = Math.min(uploadChunkBytes, bytes - sent);
    yield chunkAt(i, length);
    sent += length;
  }
}

const expectedHashes = new Map<number, string>();

/** SHA-256 of the generated file of `bytes` bytes (computed once per size). */
function expectedSha256(bytes: number): string {
  let hex = expectedHashes.get(bytes);
  if (hex === undefined) {
    const hash = createHash("sha256");
    for (const chunk of fileChunks(bytes)) hash.update(chunk);
    hex = hash.digest("hex");
    expectedHashes.set(bytes, hex);
  }
  return hex;
}

function target(args: Readonly<Record<string, unknown>>): Target {
  const { protocol, baseUrl, token } = args;
  if ((protocol !== "grpc" && protocol !== "raw") || typeof baseUrl !== "string") {
    throw new Error(`expected {protocol: "grpc" | "raw", baseUrl}, got ${JSON.stringify(args)}`);
  }
  return { protocol, baseUrl, ...(typeof token === "string" ? { token } : {}) };
}

function grpcClient(t: Target) {
  const sessionManager = new Http2SessionManager(t.baseUrl);
  const transport = createGrpcTransport({ baseUrl: t.baseUrl, sessionManager });
  const headers = t.token ? { authorization: `Bearer ${t.token}` } : undefined;
  return {
    client: createClient(ChatService, transport),
    headers,
    close: () => sessionManager.abort(),
  };
}

async function* uploadRequests(bytes: number): AsyncGenerator<UploadRequest> {
  yield create(UploadRequestSchema, {
    payload: { case: "metadata", value: { name: "bench.bin", size: BigInt(bytes) } },
  });
  for (const chunk of fileChunks(bytes)) {
    yield create(UploadRequestSchema, { payload: { case: "chunk", value: chunk } });
  }
}

/** Reads a whole (small) response body as text. */
async function readText(stream: http2.ClientHttp2Stream): Promise<string> {
  let text = "";
  stream.setEncoding("utf8");
  for await (const part of stream) text += part as string;
  return text;
}

/** Waits for the response headers; rejects on a non-200 status. */
async function responseOk(stream: http2.ClientHttp2Stream, what: string): Promise<void> {
  const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
  const status = Number(headers[":status"]);
  if (status !== 200) throw new Error(`${what}: HTTP ${status}: ${await readText(stream)}`);
}

async function upload(args: Readonly<Record<string, unknown>>) {
  const t = target(args);
  const bytes = Number(args.bytes);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`bad bytes: ${args.bytes}`);
  const sha256 = expectedSha256(bytes);
  if (t.protocol === "grpc") {
    const { client, headers, close } = grpcClient(t);
    try {
      const started = performance.now();
      const res = await client.upload(uploadRequests(bytes), { headers });
      const seconds = (performance.now() - started) / 1000;
      const file = res.file;
      if (!file) throw new Error("upload: response without file");
      return {
        fileId: file.id,
        seconds,
        sha256,
        serverSha256: file.sha256,
        size: Number(file.size),
      };
    } finally {
      close();
    }
  }
  const session = http2.connect(t.baseUrl);
  session.on("error", () => {});
  try {
    const started = performance.now();
    const req = session.request({ ":method": "POST", ":path": "/upload" });
    const response = responseOk(req, "upload");
    for (const chunk of fileChunks(bytes)) {
      if (!req.write(chunk)) await once(req, "drain");
    }
    req.end();
    await response;
    const body = JSON.parse(await readText(req)) as { id: string; size: number };
    const seconds = (performance.now() - started) / 1000;
    return { fileId: body.id, seconds, sha256, size: body.size };
  } finally {
    session.close();
  }
}

async function download(args: Readonly<Record<string, unknown>>) {
  const t = target(args);
  const fileId = String(args.fileId);
  const hash = createHash("sha256");
  let bytes = 0;
  if (t.protocol === "grpc") {
    const { client, headers, close } = grpcClient(t);
    try {
      const started = performance.now();
      for await (const res of client.download({ fileId }, { headers })) {
        if (res.payload.case !== "chunk") continue;
        hash.update(res.payload.value);
        bytes += res.payload.value.byteLength;
      }
      const seconds = (performance.now() - started) / 1000;
      return { seconds, sha256: hash.digest("hex"), bytes };
    } finally {
      close();
    }
  }
  const session = http2.connect(t.baseUrl);
  session.on("error", () => {});
  try {
    const started = performance.now();
    const req = session.request({ ":method": "GET", ":path": `/files/${fileId}` });
    req.end();
    await responseOk(req, "download");
    for await (const chunk of req) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).byteLength;
    }
    const seconds = (performance.now() - started) / 1000;
    return { seconds, sha256: hash.digest("hex"), bytes };
  } finally {
    session.close();
  }
}

serveCommands({ upload, download });
