/**
 * Contract tests of `BlobStore` (src/backend/types.ts): size and sha256,
 * ranged and bounded-chunk reads, abort by signal, aborted uploads, and the
 * NotFound / OutOfRange errors.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { it } from "node:test";
import { NotFoundError, OutOfRangeError } from "../errors.js";
import { ada, bob, type ContractContext, readAll, testBytes, uploadBytes } from "./helpers.js";

/**
 * Registers the BlobStore tests in the current `describe`.
 *
 * @example
 * describe("x contract", () => { blobStoreContract(ctx); });
 */
export function blobStoreContract(ctx: ContractContext): void {
  it("a committed blob has its size and sha256 and reads whole or from an offset", async () => {
    const { backend } = ctx;
    const bytes = testBytes(200_000);
    const file = await uploadBytes(backend, bytes, 30_000);
    assert.equal(file.size, bytes.length);
    assert.equal(file.sha256, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(file.name, "data.bin");
    assert.equal(file.contentType, "application/octet-stream");
    assert.equal(file.room, "files");
    assert.deepEqual(file.uploader, ada);
    assert.deepEqual(await backend.blobs.stat(file.id), file);
    assert.deepEqual(await readAll(backend, file.id, 0), Buffer.from(bytes));
    assert.deepEqual(
      await readAll(backend, file.id, 123_457),
      Buffer.from(bytes.subarray(123_457)),
    );
    assert.equal((await readAll(backend, file.id, bytes.length)).length, 0);
    let maxChunk = 0;
    for await (const part of backend.blobs.read(file.id, 0))
      maxChunk = Math.max(maxChunk, part.length);
    assert.ok(maxChunk <= 64 * 1024, `chunk of ${maxChunk} bytes`);
    const empty = await uploadBytes(backend, new Uint8Array(0));
    assert.equal(empty.size, 0);
    assert.equal(empty.sha256, createHash("sha256").digest("hex"));
    assert.equal((await readAll(backend, empty.id, 0)).length, 0);
    assert.equal(backend.blobs.openUploads, 0);
  });

  it("a blob read stops when its signal is aborted", async () => {
    const { backend } = ctx;
    const file = await uploadBytes(backend, testBytes(300_000), 100_000);
    const ac = new AbortController();
    let received = 0;
    await assert.rejects(async () => {
      for await (const part of backend.blobs.read(file.id, 0, ac.signal)) {
        received += part.length;
        ac.abort();
      }
    });
    assert.ok(received < 300_000);
  });

  it("an aborted upload leaves no visible file and openUploads returns to zero", async () => {
    const { backend } = ctx;
    const baseline = backend.blobs.openUploads;
    const w = await backend.blobs.create({
      name: "x",
      contentType: "text/plain",
      room: "",
      uploader: bob,
    });
    assert.equal(backend.blobs.openUploads, baseline + 1);
    await w.write(testBytes(5000));
    await w.abort();
    await w.abort();
    assert.equal(backend.blobs.openUploads, baseline);
    await assert.rejects(w.commit());
  });

  it("unknown file ids are NotFoundError and offsets past the end are OutOfRangeError", async () => {
    const { backend } = ctx;
    await assert.rejects(backend.blobs.stat("no-such-file"), NotFoundError);
    await assert.rejects(readAll(backend, "no-such-file", 0), NotFoundError);
    await assert.rejects(readAll(backend, "../switchboard.db", 0), NotFoundError);
    const file = await uploadBytes(backend, testBytes(100));
    await assert.rejects(readAll(backend, file.id, 101), OutOfRangeError);
  });
}
