/**
 * The reference of the upload/download benchmark: a bare node:http2 (h2c)
 * file server with no protocol on top of HTTP.
 *
 * - `POST /upload`: pipes the request body into a new file, fsyncs it and
 *   answers 200 with `{"id":"…","size":N}`.
 * - `GET /files/<id>`: streams the file back (`respondWithFile`).
 *
 *   node --import tsx bench/servers/raw-h2-upload.ts [--data-dir DIR]
 *
 * Without `--data-dir` the files go to a fresh temporary directory, removed
 * on exit. Listens on 127.0.0.1, port 0; prints `{"ready":true,"port":N}`
 * when listening; SIGTERM or SIGINT closes it and exits.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { close, createWriteStream, fsync, mkdtempSync, open, rmSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs, promisify } from "node:util";

const openFile = promisify(open);
const fsyncFile = promisify(fsync);
const closeFile = promisify(close);

const { values: flags } = parseArgs({
  options: { "data-dir": { type: "string" } },
  strict: true,
});

/** Removed on exit: the data directory we created. */
const tempDir = flags["data-dir"] ? undefined : mkdtempSync(join(tmpdir(), "raw-h2-upload-"));
const dataDir = flags["data-dir"] ?? tempDir!;

/** Writes the request body to `<dataDir>/<id>`, fsyncs it, and returns its size. */
async function storeBody(stream: http2.ServerHttp2Stream, id: string): Promise<number> {
  const fd = await openFile(join(dataDir, id), "wx");
  try {
    const out = createWriteStream("", { fd, autoClose: false });
    await pipeline(stream, out);
    await fsyncFile(fd);
    return out.bytesWritten;
  } finally {
    await closeFile(fd);
  }
}

function answer(stream: http2.ServerHttp2Stream, status: number, body: unknown): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({ ":status": status, "content-type": "application/json" });
  stream.end(JSON.stringify(body));
}

const server = http2.createServer();
server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  const method = headers[":method"];
  const path = headers[":path"] ?? "";
  if (method === "POST" && path === "/upload") {
    const id = randomBytes(12).toString("hex");
    storeBody(stream, id).then(
      (size) => answer(stream, 200, { id, size }),
      (e: unknown) => {
        rmSync(join(dataDir, id), { force: true });
        answer(stream, 500, { error: e instanceof Error ? e.message : String(e) });
      },
    );
    return;
  }
  const file = /^\/files\/([0-9a-f]{24})$/.exec(path);
  if (method === "GET" && file) {
    stream.respondWithFile(
      join(dataDir, file[1]!),
      { "content-type": "application/octet-stream" },
      { onError: () => answer(stream, 404, { error: "not found" }) },
    );
    return;
  }
  answer(stream, 404, { error: "not found" });
});

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  server.close();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});
