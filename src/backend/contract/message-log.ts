/**
 * Contract tests of `MessageLog` (src/backend/types.ts): offsets, every stored field, paging
 * in both directions, room info and epochs, idempotent appends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import {
  ada,
  appendMany,
  bob,
  type ContractContext,
  msg,
  offsets,
  testBytes,
  uploadBytes,
} from "./helpers.js";

/**
 * Registers the MessageLog tests in the current `describe`.
 *
 * @example
 * describe("x contract", () => { messageLogContract(ctx); });
 */
export function messageLogContract(ctx: ContractContext): void {
  it("append returns strictly increasing offsets and stores every field", async () => {
    const { backend } = ctx;
    const r = ctx.newRoom();
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
    const { backend } = ctx;
    const r = ctx.newRoom();
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
    const { backend } = ctx;
    const r = ctx.newRoom();
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
    const { backend } = ctx;
    const r = ctx.newRoom();
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
    const { backend } = ctx;
    const r = ctx.newRoom();
    const first = await backend.log.append(msg(r, "once", { clientMessageId: "k" }));
    const again = await backend.log.append(msg(r, "changed text", { clientMessageId: "k" }));
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.message, first.message);
    const page = await backend.log.read(r, { direction: "forward", offset: 0n, limit: 10 });
    assert.equal(page.messages.length, 1);
    assert.equal(page.info.headOffset, first.message.offset);
  });

  it("the same clientMessageId from another user, in another room, or empty stores a new message", async () => {
    const { backend } = ctx;
    const r = ctx.newRoom();
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
}
