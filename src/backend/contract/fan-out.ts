/**
 * Contract tests of `FanOut` (src/backend/types.ts): exactly-once ordered
 * delivery, throwing listeners, the subscribe/replay/drain seam, and the end
 * of a subscription reported through `onEnd` (listener threw, backend closed)
 * but never after the subscriber's own `close()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { BackendClosedError } from "../errors.js";
import type { StoredMessage } from "../types.js";
import {
  ada,
  appendMany,
  assertIncreasing,
  bob,
  type ContractContext,
  msg,
  offsets,
  sleep,
} from "./helpers.js";

/**
 * Registers the FanOut tests in the current `describe`.
 *
 * @example
 * describe("x contract", () => { fanOutContract(ctx); });
 */
export function fanOutContract(ctx: ContractContext): void {
  it("fan-out delivers every later message exactly once in order to each subscriber; close stops it", async () => {
    const { backend } = ctx;
    const r = ctx.newRoom();
    const baseline = backend.fanout.activeSubscriptions;
    const got1: StoredMessage[] = [];
    const got2: StoredMessage[] = [];
    const noise: StoredMessage[] = [];
    const ends: Error[] = [];
    const onEnd = (e: Error) => ends.push(e);
    const s1 = await backend.fanout.subscribe(r, (m) => got1.push(m), { onEnd });
    const s2 = await backend.fanout.subscribe(r, (m) => got2.push(m), { onEnd });
    const s3 = await backend.fanout.subscribe(`${r}-elsewhere`, (m) => noise.push(m));
    assert.equal(backend.fanout.activeSubscriptions, baseline + 3);
    const sent = await appendMany(backend, r, 5);
    await backend.log.append(msg(r, "dup", { clientMessageId: "x" }));
    await backend.log.append(msg(r, "dup", { clientMessageId: "x" }));
    const expected = [...offsets(sent), (await backend.log.info(r)).headOffset];
    await sleep(10);
    assert.deepEqual(offsets(got1), expected);
    assert.deepEqual(offsets(got2), expected);
    assert.deepEqual(noise, []);
    s1.close();
    s1.close();
    assert.equal(backend.fanout.activeSubscriptions, baseline + 2);
    await appendMany(backend, r, 1);
    await sleep(10);
    assert.equal(got1.length, expected.length);
    assert.equal(got2.length, expected.length + 1);
    s2.close();
    s3.close();
    assert.equal(backend.fanout.activeSubscriptions, baseline);
    assert.deepEqual(ends, [], "onEnd is not called for the subscriber's own close()");
  });

  it("a listener that throws is closed and other subscribers keep receiving", async () => {
    const { backend } = ctx;
    const r = ctx.newRoom();
    const baseline = backend.fanout.activeSubscriptions;
    let calls = 0;
    const good: StoredMessage[] = [];
    await backend.fanout.subscribe(r, () => {
      calls++;
      throw new Error("listener bug");
    });
    const s = await backend.fanout.subscribe(r, (m) => good.push(m));
    await appendMany(backend, r, 3);
    await sleep(10);
    assert.equal(calls, 1);
    assert.equal(good.length, 3);
    assert.equal(backend.fanout.activeSubscriptions, baseline + 1);
    s.close();
    assert.equal(backend.fanout.activeSubscriptions, baseline);
  });

  it("a listener that throws ends its subscription once through onEnd with the thrown error", async () => {
    const { backend } = ctx;
    const r = ctx.newRoom();
    const baseline = backend.fanout.activeSubscriptions;
    const bug = new Error("listener bug");
    const ends: Error[] = [];
    const otherEnds: Error[] = [];
    const broken = await backend.fanout.subscribe(
      r,
      () => {
        throw bug;
      },
      { onEnd: (e) => ends.push(e) },
    );
    const odd = await backend.fanout.subscribe(
      r,
      () => {
        throw "not an Error";
      },
      { onEnd: (e) => ends.push(e) },
    );
    const good: StoredMessage[] = [];
    const s = await backend.fanout.subscribe(r, (m) => good.push(m), {
      onEnd: (e) => otherEnds.push(e),
    });
    await appendMany(backend, r, 3);
    await sleep(10);
    assert.equal(ends.length, 2);
    assert.equal(ends[0], bug);
    assert.ok(ends[1] instanceof Error);
    assert.equal(ends[1].cause, "not an Error");
    assert.equal(good.length, 3);
    assert.equal(backend.fanout.activeSubscriptions, baseline + 1);
    broken.close();
    odd.close();
    s.close();
    assert.equal(ends.length, 2);
    assert.deepEqual(otherEnds, []);
    assert.equal(backend.fanout.activeSubscriptions, baseline);
  });

  it("backend close ends every open subscription once with BackendClosedError, never one already closed", async (t) => {
    const b = await ctx.open(await ctx.freshDir());
    t.after(() => b.close());
    const ends: [string, Error][] = [];
    const got: StoredMessage[] = [];
    const s1 = await b.fanout.subscribe("r1", (m) => got.push(m), {
      onEnd: (e) => {
        ends.push(["s1", e]);
        throw new Error("onEnd bug is ignored");
      },
    });
    const s2 = await b.fanout.subscribe("r1", (m) => got.push(m), {
      onEnd: (e) => ends.push(["s2", e]),
    });
    const s3 = await b.fanout.subscribe("r2", (m) => got.push(m), {
      onEnd: (e) => ends.push(["s3", e]),
    });
    await b.log.append(msg("r1", "before close"));
    await sleep(10);
    assert.equal(got.length, 2);
    s2.close();
    assert.equal(b.fanout.activeSubscriptions, 2);
    await b.close();
    assert.deepEqual(ends.map(([name]) => name).sort(), ["s1", "s3"]);
    for (const [, reason] of ends) assert.ok(reason instanceof BackendClosedError);
    assert.equal(b.fanout.activeSubscriptions, 0);
    s1.close();
    s3.close();
    await b.close();
    await sleep(10);
    assert.equal(ends.length, 2);
    assert.equal(got.length, 2);
  });

  it("subscribe, replay history, then drain live has no gap and no duplicate under concurrent appends", async () => {
    const { backend } = ctx;
    const r = ctx.newRoom();
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
}
