/**
 * The one test suite every backend passes. Each implementation's test file
 * calls {@link runBackendContract} with a factory; the suite owns the temp
 * directories it hands to that factory and removes them afterwards.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BackendClosedError, NotFoundError, OutOfRangeError } from "./errors.js";
import type {
  AppendInput,
  Backend,
  PresenceChange,
  StoredFile,
  StoredMessage,
  UserRef,
} from "./types.js";

/** Options of {@link runBackendContract}. */
export interface BackendContractOptions {
  /** The backend keeps history and files across close + reopen on the same directory. */
  readonly durable: boolean;
}

const ada: UserRef = { id: "ada", name: "Ada Lovelace" };
const bob: UserRef = { id: "bob", name: "Bob" };

/** Builds an {@link AppendInput} with defaults. */
function msg(room: string, text: string, extra: Partial<AppendInput> = {}): AppendInput {
  return { room, sender: ada, text, attachments: [], clientMessageId: "", ...extra };
}

async function appendMany(backend: Backend, room: string, n: number): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  for (let i = 0; i < n; i++) out.push((await backend.log.append(msg(room, `m${i}`))).message);
  return out;
}

function offsets(messages: readonly StoredMessage[]): bigint[] {
  return messages.map((m) => m.offset);
}

function assertIncreasing(values: readonly bigint[]): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i]! > values[i - 1]!, `offsets not increasing: ${values.join(",")}`);
  }
}

async function uploadBytes(backend: Backend, bytes: Uint8Array, chunk = 1000): Promise<StoredFile> {
  const w = await backend.blobs.create({
    name: "data.bin",
    contentType: "application/octet-stream",
    room: "files",
    uploader: ada,
  });
  for (let i = 0; i < bytes.length; i += chunk) await w.write(bytes.subarray(i, i + chunk));
  assert.equal(w.size, bytes.length);
  return w.commit();
}

async function readAll(backend: Backend, id: string, offset: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of backend.blobs.read(id, offset)) parts.push(part);
  return Buffer.concat(parts);
}

function testBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

/**
 * Registers a `describe` suite proving that a backend honours every guarantee
 * documented in `types.ts`.
 *
 * @param name Suite name, e.g. "memory backend".
 * @param open Opens a backend on a directory (fresh, or reused when durable).
 * @param options Whether close + reopen on the same directory must keep data.
 *
 * @example
 * runBackendContract("sqlite backend", async (dir) => createSqliteBackend({ dataDir: dir }), { durable: true });
 */
export function runBackendContract(
  name: string,
  open: (dir: string) => Promise<Backend>,
  options: BackendContractOptions,
): void {
  describe(`${name} contract`, () => {
    let dir = "";
    let backend: Backend;
    let room = "";
    let roomCounter = 0;
    const dirs: string[] = [];

    async function freshDir(): Promise<string> {
      const d = await mkdtemp(join(tmpdir(), "switchboard-backend-"));
      dirs.push(d);
      return d;
    }

    before(async () => {
      dir = await freshDir();
      backend = await open(dir);
    });
    after(async () => {
      await backend.close();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    });
    /** A room name no other test uses. */
    function newRoom(): string {
      room = `room-${++roomCounter}`;
      return room;
    }

    it("append returns strictly increasing offsets and stores every field", async () => {
      const r = newRoom();
      const attachment = await uploadBytes(backend, testBytes(10));
      const before = Date.now();
      const first = await backend.log.append(
        msg(r, "hello", { attachments: [attachment], clientMessageId: "c1" }),
      );
      const second = await backend.log.append(msg(r, "world", { sender: bob }));
      assert.equal(first.duplicate, false);
      assert.equal(second.duplicate, false);
      assert.ok(first.message.offset >= 1n);
      assert.ok(second.message.offset > first.message.offset);
      assert.notEqual(first.message.id, second.message.id);
      assert.equal(first.message.epoch, second.message.epoch);
      const page = await backend.log.read(r, { direction: "forward", offset: 0n, limit: 10 });
      assert.deepEqual(page.messages, [first.message, second.message]);
      const m = page.messages[0]!;
      assert.equal(m.room, r);
      assert.deepEqual(m.sender, ada);
      assert.equal(m.text, "hello");
      assert.equal(m.clientMessageId, "c1");
      assert.deepEqual(m.attachments, [attachment]);
      assert.ok(m.time >= before - 1000 && m.time <= Date.now() + 1000);
      assert.equal(page.messages[1]!.clientMessageId, "");
    });

    it("read forward pages ascending after the anchor with hasMore", async () => {
      const r = newRoom();
      const all = await appendMany(backend, r, 7);
      const p1 = await backend.log.read(r, { direction: "forward", offset: 0n, limit: 3 });
      assert.deepEqual(offsets(p1.messages), offsets(all.slice(0, 3)));
      assert.equal(p1.hasMore, true);
      const p2 = await backend.log.read(r, {
        direction: "forward",
        offset: all[2]!.offset,
        limit: 3,
      });
      assert.deepEqual(offsets(p2.messages), offsets(all.slice(3, 6)));
      assert.equal(p2.hasMore, true);
      const p3 = await backend.log.read(r, {
        direction: "forward",
        offset: all[5]!.offset,
        limit: 3,
      });
      assert.deepEqual(offsets(p3.messages), offsets(all.slice(6)));
      assert.equal(p3.hasMore, false);
      const p4 = await backend.log.read(r, {
        direction: "forward",
        offset: all[6]!.offset,
        limit: 3,
      });
      assert.deepEqual(p4.messages, []);
      assert.equal(p4.hasMore, false);
      assert.equal(p4.info.headOffset, all[6]!.offset);
      const far = await backend.log.read(r, {
        direction: "forward",
        offset: 2n ** 64n - 1n,
        limit: 3,
      });
      assert.deepEqual(far.messages, []);
    });

    it("read backward pages from the newest, each page ascending, with hasMore", async () => {
      const r = newRoom();
      const all = await appendMany(backend, r, 7);
      const p1 = await backend.log.read(r, { direction: "backward", offset: 0n, limit: 3 });
      assert.deepEqual(offsets(p1.messages), offsets(all.slice(4)));
      assert.equal(p1.hasMore, true);
      const p2 = await backend.log.read(r, {
        direction: "backward",
        offset: p1.messages[0]!.offset,
        limit: 3,
      });
      assert.deepEqual(offsets(p2.messages), offsets(all.slice(1, 4)));
      assert.equal(p2.hasMore, true);
      const p3 = await backend.log.read(r, {
        direction: "backward",
        offset: p2.messages[0]!.offset,
        limit: 3,
      });
      assert.deepEqual(offsets(p3.messages), offsets(all.slice(0, 1)));
      assert.equal(p3.hasMore, false);
      const whole = await backend.log.read(r, { direction: "backward", offset: 0n, limit: 100 });
      assert.deepEqual(offsets(whole.messages), offsets(all));
      assert.equal(whole.hasMore, false);
      const far = await backend.log.read(r, {
        direction: "backward",
        offset: 2n ** 64n - 1n,
        limit: 2,
      });
      assert.deepEqual(offsets(far.messages), offsets(all.slice(5)));
    });

    it("info reports the head offset, and an empty room has an epoch its first message keeps", async () => {
      const r = newRoom();
      const empty = await backend.log.info(r);
      assert.equal(empty.room, r);
      assert.equal(empty.headOffset, 0n);
      assert.equal(empty.trimmedThrough, 0n);
      assert.ok(empty.epoch.length > 0);
      assert.equal((await backend.log.info(r)).epoch, empty.epoch);
      const emptyRead = await backend.log.read(r, { direction: "backward", offset: 0n, limit: 5 });
      assert.deepEqual(emptyRead.messages, []);
      assert.equal(emptyRead.hasMore, false);
      const all = await appendMany(backend, r, 3);
      const info = await backend.log.info(r);
      assert.equal(info.headOffset, all[2]!.offset);
      assert.equal(info.epoch, empty.epoch);
      assert.equal(all[0]!.epoch, empty.epoch);
    });

    it("an append repeating (room, sender, clientMessageId) stores nothing and returns the first message", async () => {
      const r = newRoom();
      const first = await backend.log.append(msg(r, "once", { clientMessageId: "k" }));
      const again = await backend.log.append(msg(r, "changed text", { clientMessageId: "k" }));
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.message, first.message);
      const page = await backend.log.read(r, { direction: "forward", offset: 0n, limit: 10 });
      assert.equal(page.messages.length, 1);
      assert.equal(page.info.headOffset, first.message.offset);
    });

    it("the same clientMessageId from another user, in another room, or empty stores a new message", async () => {
      const r = newRoom();
      const other = `${r}-other`;
      const first = await backend.log.append(msg(r, "a", { clientMessageId: "k" }));
      const byBob = await backend.log.append(msg(r, "b", { clientMessageId: "k", sender: bob }));
      const elsewhere = await backend.log.append(msg(other, "c", { clientMessageId: "k" }));
      const noKey1 = await backend.log.append(msg(r, "d"));
      const noKey2 = await backend.log.append(msg(r, "d"));
      for (const res of [byBob, elsewhere, noKey1, noKey2]) assert.equal(res.duplicate, false);
      assert.notEqual(byBob.message.id, first.message.id);
      assert.equal(elsewhere.message.room, other);
      const page = await backend.log.read(r, { direction: "forward", offset: 0n, limit: 10 });
      assert.equal(page.messages.length, 4);
    });

    it("fan-out delivers every later message exactly once in order to each subscriber; close stops it", async () => {
      const r = newRoom();
      const baseline = backend.fanout.activeSubscriptions;
      const got1: StoredMessage[] = [];
      const got2: StoredMessage[] = [];
      const noise: StoredMessage[] = [];
      const s1 = await backend.fanout.subscribe(r, (m) => got1.push(m));
      const s2 = await backend.fanout.subscribe(r, (m) => got2.push(m));
      const s3 = await backend.fanout.subscribe(`${r}-elsewhere`, (m) => noise.push(m));
      assert.equal(backend.fanout.activeSubscriptions, baseline + 3);
      const sent = await appendMany(backend, r, 5);
      await backend.log.append(msg(r, "dup", { clientMessageId: "x" }));
      await backend.log.append(msg(r, "dup", { clientMessageId: "x" }));
      const expected = [...offsets(sent), (await backend.log.info(r)).headOffset];
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(offsets(got1), expected);
      assert.deepEqual(offsets(got2), expected);
      assert.deepEqual(noise, []);
      s1.close();
      s1.close();
      assert.equal(backend.fanout.activeSubscriptions, baseline + 2);
      await appendMany(backend, r, 1);
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(got1.length, expected.length);
      assert.equal(got2.length, expected.length + 1);
      s2.close();
      s3.close();
      assert.equal(backend.fanout.activeSubscriptions, baseline);
    });

    it("a listener that throws is closed and other subscribers keep receiving", async () => {
      const r = newRoom();
      const baseline = backend.fanout.activeSubscriptions;
      let calls = 0;
      const good: StoredMessage[] = [];
      await backend.fanout.subscribe(r, () => {
        calls++;
        throw new Error("listener bug");
      });
      const s = await backend.fanout.subscribe(r, (m) => good.push(m));
      await appendMany(backend, r, 3);
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(calls, 1);
      assert.equal(good.length, 3);
      assert.equal(backend.fanout.activeSubscriptions, baseline + 1);
      s.close();
      assert.equal(backend.fanout.activeSubscriptions, baseline);
    });

    it("subscribe, replay history, then drain live has no gap and no duplicate under concurrent appends", async () => {
      const r = newRoom();
      await appendMany(backend, r, 20);
      let writing = true;
      const writer = (async () => {
        for (let i = 0; i < 60; i++) {
          await backend.log.append(msg(r, `live${i}`, { sender: i % 2 ? ada : bob }));
          await new Promise((resolve) => setImmediate(resolve));
        }
        writing = false;
      })();
      await new Promise((resolve) => setImmediate(resolve));
      // The reader algorithm of Subscribe: subscribe (buffering), replay, drain.
      const live: StoredMessage[] = [];
      const sub = await backend.fanout.subscribe(r, (m) => live.push(m));
      const seen: StoredMessage[] = [];
      let last = 0n;
      for (;;) {
        const page = await backend.log.read(r, { direction: "forward", offset: last, limit: 7 });
        seen.push(...page.messages);
        if (page.messages.length > 0) last = page.messages.at(-1)!.offset;
        if (!page.hasMore) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      let drained = 0;
      const drain = () => {
        for (; drained < live.length; drained++) {
          const m = live[drained]!;
          if (m.offset <= last) continue;
          seen.push(m);
          last = m.offset;
        }
      };
      while (writing) {
        drain();
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writer;
      drain();
      sub.close();
      const stored: StoredMessage[] = [];
      for (let after = 0n; ; ) {
        const page = await backend.log.read(r, { direction: "forward", offset: after, limit: 50 });
        stored.push(...page.messages);
        if (!page.hasMore) break;
        after = page.messages.at(-1)!.offset;
      }
      assert.equal(stored.length, 80);
      assertIncreasing(offsets(seen));
      assert.deepEqual(
        seen.map((m) => m.id),
        stored.map((m) => m.id),
      );
    });

    it("a committed blob has its size and sha256 and reads whole or from an offset", async () => {
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
      await assert.rejects(backend.blobs.stat("no-such-file"), NotFoundError);
      await assert.rejects(readAll(backend, "no-such-file", 0), NotFoundError);
      await assert.rejects(readAll(backend, "../switchboard.db", 0), NotFoundError);
      const file = await uploadBytes(backend, testBytes(100));
      await assert.rejects(readAll(backend, file.id, 101), OutOfRangeError);
    });

    it("presence lists a user with two handles once, and watchers see join then leave", async () => {
      const r = newRoom();
      const changes: PresenceChange[] = [];
      const watch = await backend.presence.watch(r, (c) => changes.push(c));
      const h1 = await backend.presence.join(r, ada);
      const h2 = await backend.presence.join(r, ada);
      const hb = await backend.presence.join(r, bob);
      assert.deepEqual(
        (await backend.presence.list(r)).map((u) => u.id),
        ["ada", "bob"],
      );
      await h1.leave();
      await h1.leave();
      assert.deepEqual(
        (await backend.presence.list(r)).map((u) => u.id),
        ["ada", "bob"],
      );
      await h2.leave();
      assert.deepEqual(await backend.presence.list(r), [bob]);
      watch.close();
      await hb.leave();
      assert.deepEqual(await backend.presence.list(r), []);
      assert.deepEqual(
        changes.map((c) => `${c.room}:${c.kind}:${c.user.id}`),
        [`${r}:join:ada`, `${r}:join:bob`, `${r}:leave:ada`],
      );
      assert.deepEqual(changes[0]!.user, ada);
    });

    if (options.durable) {
      it("close and reopen on the same directory keeps messages, epoch, idempotency and files; offsets continue", async () => {
        const d = await freshDir();
        const b1 = await open(d);
        const r = "durable";
        const before = await appendMany(b1, r, 3);
        const keyed = await b1.log.append(msg(r, "keyed", { clientMessageId: "k" }));
        const bytes = testBytes(70_000);
        const file = await uploadBytes(b1, bytes);
        const info1 = await b1.log.info(r);
        const emptyEpoch1 = (await b1.log.info("never-written")).epoch;
        await b1.close();

        const b2 = await open(d);
        try {
          const info2 = await b2.log.info(r);
          assert.equal(info2.epoch, info1.epoch);
          assert.equal(info2.headOffset, info1.headOffset);
          assert.equal((await b2.log.info("never-written")).epoch, emptyEpoch1);
          const page = await b2.log.read(r, { direction: "forward", offset: 0n, limit: 10 });
          assert.deepEqual(page.messages, [...before, keyed.message]);
          const dup = await b2.log.append(msg(r, "keyed", { clientMessageId: "k" }));
          assert.equal(dup.duplicate, true);
          assert.deepEqual(dup.message, keyed.message);
          const next = await b2.log.append(msg(r, "after restart"));
          assert.ok(next.message.offset > info1.headOffset);
          assert.equal(next.message.epoch, info1.epoch);
          assert.deepEqual(await b2.blobs.stat(file.id), file);
          assert.deepEqual(await readAll(b2, file.id, 0), Buffer.from(bytes));
        } finally {
          await b2.close();
        }
        const fresh = await open(await freshDir());
        try {
          assert.notEqual((await fresh.log.info(r)).epoch, info1.epoch);
        } finally {
          await fresh.close();
        }
      });
    } else {
      it("a new backend has a new epoch, since history did not survive", async () => {
        const r = newRoom();
        await appendMany(backend, r, 1);
        const other = await open(await freshDir());
        try {
          assert.notEqual((await other.log.info(r)).epoch, (await backend.log.info(r)).epoch);
          assert.equal((await other.log.info(r)).headOffset, 0n);
        } finally {
          await other.close();
        }
      });
    }

    it("after close every call rejects with BackendClosedError and health is not ready", async () => {
      const b = await open(await freshDir());
      assert.deepEqual(b.health(), { ready: true, reason: "" });
      await b.log.append(msg("r", "x"));
      const file = await uploadBytes(b, testBytes(10));
      const sub = await b.fanout.subscribe("r", () => {});
      const handle = await b.presence.join("r", ada);
      const pending = await b.blobs.create({ name: "p", contentType: "", room: "", uploader: ada });
      await pending.write(testBytes(10));
      await b.close();
      await b.close();
      assert.equal(b.health().ready, false);
      assert.ok(b.health().reason.length > 0);
      assert.equal(b.fanout.activeSubscriptions, 0);
      assert.equal(b.blobs.openUploads, 0);
      sub.close();
      await handle.leave();
      const closed = (e: unknown) => e instanceof BackendClosedError;
      await assert.rejects(b.log.append(msg("r", "y")), closed);
      await assert.rejects(b.log.read("r", { direction: "forward", offset: 0n, limit: 1 }), closed);
      await assert.rejects(b.log.info("r"), closed);
      await assert.rejects(
        b.fanout.subscribe("r", () => {}),
        closed,
      );
      await assert.rejects(
        b.blobs.create({ name: "q", contentType: "", room: "", uploader: ada }),
        closed,
      );
      await assert.rejects(b.blobs.stat(file.id), closed);
      await assert.rejects(readAll(b, file.id, 0), closed);
      await assert.rejects(b.presence.join("r", ada), closed);
      await assert.rejects(b.presence.list("r"), closed);
      await assert.rejects(
        b.presence.watch("r", () => {}),
        closed,
      );
      await assert.rejects(pending.commit());
    });
  });
}
