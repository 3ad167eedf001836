/**
 * Contract tests of durability: a durable backend reopened on the same
 * directory keeps messages, epochs, idempotency keys and files, and its
 * offsets continue, also for appends made concurrently (which a backend may
 * commit together); a non-durable one starts a new epoch.
 *
 * @module
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import {
  appendMany,
  assertIncreasing,
  type ContractContext,
  msg,
  offsets,
  readAll,
  testBytes,
  uploadBytes,
} from "./helpers.js";

/**
 * Registers the durability test matching `ctx.options.durable` in the
 * current `describe`.
 *
 * @example
 * describe("x contract", () => { durabilityContract(ctx); });
 */
export function durabilityContract(ctx: ContractContext): void {
  const { open } = ctx;
  if (ctx.options.durable) {
    it("close and reopen on the same directory keeps messages, epoch, idempotency and files; offsets continue", async () => {
      const d = await ctx.freshDir();
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
      const fresh = await open(await ctx.freshDir());
      try {
        assert.notEqual((await fresh.log.info(r)).epoch, info1.epoch);
      } finally {
        await fresh.close();
      }
    });
    it("concurrent appends over several rooms: each acked one is kept across close and reopen, offsets increasing per room", async () => {
      const d = await ctx.freshDir();
      const b1 = await open(d);
      const rooms = ["burst-a", "burst-b", "burst-c"];
      const acked = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          b1.log.append(msg(rooms[i % rooms.length]!, `m${i}`, { clientMessageId: `k${i}` })),
        ),
      );
      await b1.close();
      const b2 = await open(d);
      try {
        for (const room of rooms) {
          const mine = acked.map((a) => a.message).filter((m) => m.room === room);
          assert.equal(mine.length, 20);
          assert.equal(new Set(offsets(mine)).size, mine.length, "distinct offsets");
          const page = await b2.log.read(room, { direction: "forward", offset: 0n, limit: 100 });
          assertIncreasing(offsets(page.messages));
          const byOffset = [...mine].sort((x, y) => (x.offset < y.offset ? -1 : 1));
          assert.deepEqual(page.messages, byOffset);
        }
      } finally {
        await b2.close();
      }
    });
  } else {
    it("a new backend has a new epoch, since history did not survive", async () => {
      const { backend } = ctx;
      const r = ctx.newRoom();
      await appendMany(backend, r, 1);
      const other = await open(await ctx.freshDir());
      try {
        assert.notEqual((await other.log.info(r)).epoch, (await backend.log.info(r)).epoch);
        assert.equal((await other.log.info(r)).headOffset, 0n);
      } finally {
        await other.close();
      }
    });
  }
}
