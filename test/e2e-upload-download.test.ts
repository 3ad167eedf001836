/**
 * End-to-end tests of Upload (client streaming) and Download (server
 * streaming) over real sockets, with every protocol variant: connect-node
 * streams request bodies over HTTP/1.1 too, only bidi needs HTTP/2.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { FileInfo } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  type ChatApi,
  concatBytes,
  createPushable,
  expectConnectError,
  protocolVariants,
  rawField,
  type UploadFrame,
  waitFor,
} from "./helpers/clients.js";
import { createGrpcJsClient } from "./helpers/grpc-js-client.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const streamingVariants = protocolVariants.filter((v) => v.clientStreaming);

async function* frames(
  meta: { name: string; room?: string; contentType?: string; size?: bigint },
  data: Uint8Array,
  chunkSize: number,
): AsyncIterable<UploadFrame> {
  yield { payload: { case: "metadata", value: meta } };
  for (let i = 0; i < data.length; i += chunkSize) {
    yield { payload: { case: "chunk", value: data.subarray(i, i + chunkSize) } };
  }
}

async function download(api: ChatApi, fileId: string, offset = 0n, signal?: AbortSignal) {
  let info: FileInfo | undefined;
  const chunks: Uint8Array[] = [];
  for await (const r of api.download({ fileId, offset }, { timeoutMs: 20_000, signal })) {
    if (r.payload.case === "file") {
      assert.equal(info, undefined, "file info comes once");
      assert.equal(chunks.length, 0, "file info comes first");
      info = r.payload.value;
    } else if (r.payload.case === "chunk") chunks.push(r.payload.value);
  }
  return { info, chunks, bytes: Buffer.concat(chunks) };
}

async function tmpFiles(ts: TestServer): Promise<string[]> {
  return readdir(join(ts.dataDir, "tmp")).catch(() => []);
}

/** Every file under the data dir except the database and the secret. */
async function storedFiles(ts: TestServer): Promise<string[]> {
  const all = (await readdir(ts.dataDir, { recursive: true, withFileTypes: true })) as {
    name: string;
    isFile(): boolean;
  }[];
  return all
    .filter((d) => d.isFile() && !/\.db|sqlite|jwt-secret|-wal|-shm/.test(d.name))
    .map((d) => d.name)
    .sort();
}

describe("e2e Upload and Download", () => {
  let ts: TestServer;
  let small: TestServer;
  let token: string;
  let smallToken: string;
  const data = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17));
  let file: FileInfo;
  before(async () => {
    ts = await startTestServer({ backend: "sqlite" });
    small = await startTestServer({
      backend: "sqlite",
      limits: { maxChunkBytes: 1024, maxFileBytes: 4096 },
    });
    token = await ts.token({ subject: "alice", rooms: ["lobby*"] });
    smallToken = await small.token({ subject: "alice", rooms: ["lobby*"] });
    const c = streamingVariants[0]!.open(ts.url, token);
    try {
      const res = await c.api.upload(frames({ name: "big.bin", room: "lobby" }, data, 256 * 1024), {
        timeoutMs: 30_000,
      });
      file = res.file!;
    } finally {
      c.close();
    }
  });
  after(async () => {
    await ts?.close();
    await small?.close();
  });

  for (const v of streamingVariants) {
    it(`uploads a multi-MB file in chunks and reports size and matching sha256 (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      try {
        const res = await c.api.upload(
          frames(
            {
              name: "photo.jpg",
              room: "lobby",
              contentType: "image/jpeg",
              size: BigInt(data.length),
            },
            data,
            100_000,
          ),
          { timeoutMs: 30_000 },
        );
        const f = res.file!;
        assert.equal(f.size, BigInt(data.length));
        assert.equal(f.sha256, sha256(data));
        assert.equal(f.name, "photo.jpg");
        assert.equal(f.contentType, "image/jpeg");
        assert.equal(f.room, "lobby");
        assert.equal(f.uploader?.id, "alice");
        assert.ok(f.id.length > 0);
        assert.equal(ts.server.backend.blobs.openUploads, 0);
      } finally {
        c.close();
      }
    });

    const rejected: [string, UploadFrame[], RegExp][] = [
      ["a chunk over the chunk limit", [meta(), chunk(2048)], /chunk/],
      [
        "a file over the file limit",
        [meta(), chunk(1024), chunk(1024), chunk(1024), chunk(1024), chunk(1)],
        /size|large|limit|file/,
      ],
      ["a declared size over the file limit", [meta({ size: 5000n }), chunk(10)], /size/],
    ];
    for (const [what, reqs, field] of rejected) {
      it(`rejects ${what}, leaving no open upload and no temp file (${v.name})`, async () => {
        const c = v.open(small.url, smallToken);
        try {
          const err = await expectConnectError(c.api.upload(iter(reqs), { timeoutMs: 10_000 }));
          assert.ok(
            err.code === Code.InvalidArgument || err.code === Code.ResourceExhausted,
            `InvalidArgument or ResourceExhausted, got ${err.message}`,
          );
          assert.match(err.rawMessage, field);
          await waitFor(
            "openUploads back to 0",
            () => small.server.backend.blobs.openUploads === 0,
          );
          await waitFor("no temp file", async () => (await tmpFiles(small)).length === 0);
        } finally {
          c.close();
        }
      });
    }

    const invalid: [string, UploadFrame[], RegExp][] = [
      ["a name with a path separator", [meta({ name: "../etc/passwd" }), chunk(3)], /name/],
      ["an empty name", [meta({ name: "" }), chunk(3)], /name/],
      ["a first message that is a chunk", [chunk(3)], /metadata/],
      ["a second metadata message", [meta(), meta()], /metadata/],
      ["fewer bytes than the declared size", [meta({ size: 10n }), chunk(5)], /size/],
    ];
    for (const [what, reqs, field] of invalid) {
      it(`rejects ${what} with InvalidArgument naming the field (${v.name})`, async () => {
        const c = v.open(small.url, smallToken);
        try {
          const err = await expectConnectError(c.api.upload(iter(reqs), { timeoutMs: 10_000 }));
          assert.equal(err.code, Code.InvalidArgument, err.message);
          assert.match(err.rawMessage, field);
          await waitFor(
            "openUploads back to 0",
            () => small.server.backend.blobs.openUploads === 0,
          );
        } finally {
          c.close();
        }
      });
    }

    it(`a cancelled upload leaves no open upload, no temp file and no stored file (${v.name})`, async () => {
      const before = await storedFiles(ts);
      const c = v.open(ts.url, token);
      const ac = new AbortController();
      const reqs = createPushable<UploadFrame>();
      try {
        reqs.push(meta({ name: "cancel.bin" }));
        reqs.push(chunk(64 * 1024));
        const pending = expectConnectError(
          c.api.upload(reqs, { timeoutMs: 10_000, signal: ac.signal }),
        );
        await waitFor(
          "the upload to be open on the server",
          () => ts.server.backend.blobs.openUploads >= 1,
        );
        reqs.push(chunk(64 * 1024));
        ac.abort();
        const err = await pending;
        assert.equal(err.code, Code.Canceled, err.message);
        await waitFor("openUploads back to 0", () => ts.server.backend.blobs.openUploads === 0);
        await waitFor("no temp file", async () => (await tmpFiles(ts)).length === 0);
        assert.deepEqual(await storedFiles(ts), before, "no new file is stored");
      } finally {
        reqs.end();
        c.close();
      }
    });
  }

  it("rejects invalid UTF-8 in the upload name with InvalidArgument naming the field (grpc-js raw body)", async () => {
    const g = createGrpcJsClient(small.url, smallToken);
    try {
      const metaBytes = rawField(
        1,
        concatBytes(rawField(1, Uint8Array.of(0x61, 0xc3, 0x28)), rawField(4, "lobby")),
      );
      const err = await expectConnectError(
        g.rawClientStream("Upload", [metaBytes, rawField(2, "abc")], { timeoutMs: 5000 }),
      );
      assert.equal(err.code, Code.InvalidArgument, err.message);
      assert.match(err.rawMessage, /name/);
      await waitFor("openUploads back to 0", () => small.server.backend.blobs.openUploads === 0);
    } finally {
      g.close();
    }
  });

  for (const v of protocolVariants) {
    it(`downloads the whole file: file info first, then bounded chunks with the exact bytes (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      try {
        const got = await download(c.api, file.id);
        assert.equal(got.info?.id, file.id);
        assert.equal(got.info?.sha256, sha256(data));
        assert.equal(got.info?.size, BigInt(data.length));
        assert.ok(got.chunks.length > 1, "streamed in several chunks");
        assert.ok(
          got.chunks.every((ch) => ch.length <= 64 * 1024),
          "chunks are at most downloadChunkBytes",
        );
        assert.equal(sha256(got.bytes), sha256(data));
      } finally {
        c.close();
      }
    });

    it(`downloads from a byte offset and gets exactly the tail (resume) (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      try {
        const offset = 1_000_003;
        const got = await download(c.api, file.id, BigInt(offset));
        assert.equal(got.info?.id, file.id);
        assert.equal(got.bytes.length, data.length - offset);
        assert.ok(got.bytes.equals(Buffer.from(data.subarray(offset))), "tail bytes match");
        const end = await download(c.api, file.id, BigInt(data.length));
        assert.equal(end.bytes.length, 0, "offset == size yields no bytes");
      } finally {
        c.close();
      }
    });

    it(`download errors: unknown id is NotFound, empty id InvalidArgument, offset past the end OutOfRange (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      try {
        const nf = await expectConnectError(download(c.api, "no-such-file"));
        assert.equal(nf.code, Code.NotFound, nf.message);
        const empty = await expectConnectError(download(c.api, ""));
        assert.equal(empty.code, Code.InvalidArgument, empty.message);
        assert.match(empty.rawMessage, /file_id|fileId/);
        const past = await expectConnectError(download(c.api, file.id, BigInt(data.length + 1)));
        assert.equal(past.code, Code.OutOfRange, past.message);
      } finally {
        c.close();
      }
    });

    it(`aborting a download mid-stream releases the server's file handle (${v.name})`, async () => {
      const fds = async () => (await readdir("/proc/self/fd")).length;
      const c = v.open(ts.url, token);
      const ac = new AbortController();
      try {
        await c.api.history({ room: "lobby" }, { timeoutMs: 5000 }); // open the connection first
        const baseline = await fds();
        const err = await expectConnectError(async () => {
          for await (const r of c.api.download(
            { fileId: file.id },
            { timeoutMs: 10_000, signal: ac.signal },
          )) {
            if (r.payload.case === "chunk") ac.abort();
          }
        });
        assert.equal(err.code, Code.Canceled, err.message);
        await waitFor(
          "file descriptors back to the baseline",
          async () => (await fds()) <= baseline,
        );
      } finally {
        c.close();
      }
    });
  }
});

function meta(o: { name?: string; size?: bigint } = {}): UploadFrame {
  return {
    payload: { case: "metadata", value: { name: o.name ?? "f.bin", room: "lobby", size: o.size } },
  };
}
function chunk(n: number): UploadFrame {
  return { payload: { case: "chunk", value: new Uint8Array(n).fill(7) } };
}
async function* iter<T>(xs: T[]): AsyncIterable<T> {
  yield* xs;
}
