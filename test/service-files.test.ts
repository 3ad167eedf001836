import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import type { UploadMetadata, UploadRequest } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  connectErrorOf,
  createHarness,
  createPushable,
  describe,
  eventually,
  type Harness,
} from "./service-harness.js";

type UploadInit = {
  payload: UploadRequest["payload"] | { case: "metadata"; value: Partial<UploadMetadata> };
};

function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

async function* frames(
  meta: Partial<UploadMetadata> | undefined,
  chunks: Uint8Array[],
): AsyncGenerator<UploadInit> {
  if (meta) yield { payload: { case: "metadata", value: meta } };
  for (const chunk of chunks) yield { payload: { case: "chunk", value: chunk } };
}

async function upload(
  h: Harness,
  user: string,
  meta: Partial<UploadMetadata> | undefined,
  chunks: Uint8Array[],
) {
  return h.client(user).upload(frames(meta, chunks) as AsyncIterable<never>);
}

async function download(h: Harness, user: string, fileId: string, offset = 0n) {
  let info: unknown;
  const parts: Uint8Array[] = [];
  for await (const res of h.client(user).download({ fileId, offset })) {
    if (res.payload.case === "file") info = res.payload.value;
    else if (res.payload.case === "chunk") parts.push(res.payload.value);
  }
  return { info, parts, data: Buffer.concat(parts) };
}

test("uploads a file in chunks and downloads it whole, in download-sized chunks", async (t) => {
  const h = createHarness({ limits: { downloadChunkBytes: 1000 } });
  t.after(() => h.close());
  const content = bytes(4500);
  const { file } = await upload(h, "alice", { name: "report.bin", size: 4500n, room: "files" }, [
    content.subarray(0, 3000),
    content.subarray(3000),
  ]);
  assert.ok(file);
  assert.equal(file.name, "report.bin");
  assert.equal(file.contentType, "application/octet-stream");
  assert.equal(file.size, 4500n);
  assert.equal(file.room, "files");
  assert.equal(file.uploader?.id, "alice");
  assert.equal(file.sha256, createHash("sha256").update(content).digest("hex"));
  const got = await download(h, "alice", file.id);
  assert.deepEqual((got.info as { id: string }).id, file.id);
  assert.deepEqual(
    got.parts.map((p) => p.byteLength),
    [1000, 1000, 1000, 1000, 500],
  );
  assert.deepEqual(new Uint8Array(got.data), content);
  assert.equal(h.backend.blobs.openUploads, 0);
});

test("download resumes from an offset; offset = size gives the description only; beyond is OutOfRange", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const content = bytes(100);
  const { file } = await upload(
    h,
    "alice",
    { name: "a.bin", contentType: "application/x-test; v=1" },
    [content],
  );
  assert.ok(file);
  assert.equal(file.contentType, "application/x-test; v=1");
  const tail = await download(h, "alice", file.id, 60n);
  assert.deepEqual(new Uint8Array(tail.data), content.subarray(60));
  const end = await download(h, "alice", file.id, 100n);
  assert.ok(end.info);
  assert.equal(end.parts.length, 0);
  const err = await connectErrorOf(() => download(h, "alice", file.id, 101n));
  assert.equal(describe(err).code, "OutOfRange");
  assert.match(err.rawMessage, /^offset: /);
});

test("download of an unknown id is NotFound; of a room file needs subscribe permission there", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  let err = await connectErrorOf(() => download(h, "alice", "no-such-file"));
  assert.equal(describe(err).code, "NotFound");
  err = await connectErrorOf(() => download(h, "alice", ""));
  assert.equal(describe(err).code, "InvalidArgument");
  assert.match(err.rawMessage, /^file_id: /);
  const { file } = await upload(h, "alice", { name: "secret.txt", room: "private" }, [bytes(3)]);
  assert.ok(file);
  err = await connectErrorOf(() => download(h, "bob", file.id));
  assert.equal(describe(err).code, "PermissionDenied");
  assert.match(err.rawMessage, /"private"/);
  const { file: open } = await upload(h, "alice", { name: "open.txt" }, [bytes(3)]);
  assert.ok(open);
  const got = await download(h, "bob", open.id);
  assert.equal(got.data.byteLength, 3);
});

test("upload validation errors name the field and leave no open upload", async (t) => {
  const h = createHarness({ limits: { maxChunkBytes: 100, maxFileBytes: 250 } });
  t.after(() => h.close());
  const cases: [string, Partial<UploadMetadata> | undefined, Uint8Array[], string, RegExp][] = [
    ["no metadata first", undefined, [bytes(1)], "InvalidArgument", /^metadata: the first message/],
    ["empty name", { name: "" }, [], "InvalidArgument", /^metadata\.name: must be 1-255/],
    [
      "name with a slash",
      { name: "a/b" },
      [],
      "InvalidArgument",
      /^metadata\.name: must not contain path separators/,
    ],
    [
      "name with a backslash",
      { name: "a\\b" },
      [],
      "InvalidArgument",
      /^metadata\.name: must not contain path/,
    ],
    [
      "name with NUL",
      { name: "a\u0000b" },
      [],
      "InvalidArgument",
      /^metadata\.name: must not contain NUL/,
    ],
    ["name with a newline", { name: "a\nb" }, [], "InvalidArgument", /^metadata\.name: .*control/],
    [
      "name of 256 characters",
      { name: "n".repeat(256) },
      [],
      "InvalidArgument",
      /^metadata\.name: /,
    ],
    [
      "bad content type",
      { name: "a", contentType: "not a type" },
      [],
      "InvalidArgument",
      /^metadata\.content_type: /,
    ],
    ["bad room", { name: "a", room: "a b" }, [], "InvalidArgument", /^metadata\.room: /],
    [
      "declared size over the limit",
      { name: "a", size: 251n },
      [],
      "InvalidArgument",
      /^metadata\.size: 251 bytes exceeds/,
    ],
    [
      "chunk over the chunk limit",
      { name: "a" },
      [bytes(101)],
      "InvalidArgument",
      /^chunk: 101 bytes exceeds/,
    ],
    [
      "total over the file limit",
      { name: "a" },
      [bytes(100), bytes(100), bytes(100)],
      "ResourceExhausted",
      /maximum file size of 250/,
    ],
    [
      "fewer bytes than declared",
      { name: "a", size: 10n },
      [bytes(5)],
      "InvalidArgument",
      /^metadata\.size: declared 10 bytes but received 5/,
    ],
    [
      "more bytes than declared",
      { name: "a", size: 10n },
      [bytes(8), bytes(8)],
      "InvalidArgument",
      /^metadata\.size: declared 10 bytes but received more/,
    ],
  ];
  for (const [what, meta, chunks, code, message] of cases) {
    const err = await connectErrorOf(() => upload(h, "alice", meta, chunks));
    assert.equal(describe(err).code, code, what);
    assert.match(err.rawMessage, message, what);
    assert.equal(h.backend.blobs.openUploads, 0, what);
  }
  const err = await connectErrorOf(() =>
    h.client("alice").upload(
      (async function* () {
        yield { payload: { case: "metadata" as const, value: { name: "a" } } };
        yield { payload: { case: "metadata" as const, value: { name: "b" } } };
      })(),
    ),
  );
  assert.match(err.rawMessage, /^metadata: only the first message/);
});

test("uploading for a room needs publish permission there", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const err = await connectErrorOf(() =>
    upload(h, "carol", { name: "a.txt", room: "lobby" }, [bytes(1)]),
  );
  assert.equal(describe(err).code, "PermissionDenied");
  assert.match(err.rawMessage, /"lobby"/);
  assert.equal(h.backend.blobs.openUploads, 0);
  const ok = await upload(h, "carol", { name: "a.txt" }, [bytes(1)]);
  assert.equal(ok.file?.room, "");
});

test("cancelling an upload midway aborts it: no open upload remains", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const requests = createPushable<UploadInit>();
  const ac = new AbortController();
  const call = h.client("alice").upload(requests as AsyncIterable<never>, { signal: ac.signal });
  requests.push({ payload: { case: "metadata", value: { name: "big.bin" } } });
  requests.push({ payload: { case: "chunk", value: bytes(10) } });
  await eventually(() => h.backend.blobs.openUploads === 1);
  ac.abort();
  const err = await connectErrorOf(() => call);
  assert.equal(describe(err).code, "Canceled");
  await eventually(() => h.backend.blobs.openUploads === 0);
});
