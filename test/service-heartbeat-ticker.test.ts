/**
 * The shared heartbeat ticker and the event queues on it: idle streams get
 * heartbeats (not before the interval), busy ones do not, and a stream that
 * ends leaves the ticker (whose timer stops with its last member).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { signalCallEnd } from "../src/service/call-end.js";
import { createEventQueue } from "../src/service/event-queue.js";
import {
  createHeartbeatTicker,
  type HeartbeatMember,
  heartbeatTicker,
} from "../src/service/heartbeat-ticker.js";
import { createHarness, nextWithin } from "./service-harness.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A member that records, for each beat, how long it had been idle by the
 * ticker's own clock: `lastActive` is the ticker's reading at the previous
 * beat (or the start). Measuring against our own earlier reading instead
 * would flake: the ticker reads the clock once per tick, before `beat()` runs.
 */
function member(): HeartbeatMember & { beats: number[]; idleAtBeat: number[]; ready: boolean } {
  const started = Date.now();
  const m = {
    active: false,
    lastActive: started,
    beats: [] as number[],
    idleAtBeat: [] as number[],
    ready: true,
    beat() {
      if (!m.ready) return false;
      const now = Date.now();
      m.beats.push(now - started);
      m.idleAtBeat.push(now - m.lastActive);
      return true;
    },
  };
  return m;
}

test("the ticker beats idle members after the interval and never busy ones", async () => {
  const ticker = createHeartbeatTicker(40);
  const idle = member();
  // Takes an event between any two ticks.
  const busy = Object.defineProperty(member(), "active", {
    get: () => true,
    set: () => {},
  });
  ticker.add(idle);
  ticker.add(busy);
  await sleep(200);
  ticker.delete(idle);
  ticker.delete(busy);
  assert.equal(busy.beats.length, 0);
  assert.ok(idle.beats.length >= 2, `beats at ${idle.beats}`);
  assert.ok(idle.beats[0]! >= 40, `first beat after ${idle.beats[0]} ms`);
  for (const idleMs of idle.idleAtBeat) {
    assert.ok(idleMs >= 40, `beat after ${idleMs} ms idle (beats at ${idle.beats})`);
  }
});

test("a member that cannot take a heartbeat is asked again on the next tick", async () => {
  const ticker = createHeartbeatTicker(20);
  const m = member();
  m.ready = false;
  ticker.add(m);
  await sleep(60);
  assert.equal(m.beats.length, 0);
  m.ready = true;
  await sleep(30);
  ticker.delete(m);
  assert.ok(m.beats.length >= 1);
});

test("a deleted member gets no heartbeat and the ticker empties", async () => {
  const ticker = createHeartbeatTicker(20);
  const m = member();
  ticker.add(m);
  assert.equal(ticker.size, 1);
  ticker.delete(m);
  ticker.delete(m);
  assert.equal(ticker.size, 0);
  await sleep(60);
  assert.equal(m.beats.length, 0);
});

test("an idle event queue yields heartbeats and leaves the ticker when it ends", async () => {
  const ac = new AbortController();
  const ms = 37;
  const queue = createEventQueue<string>({
    maxBytes: 100,
    heartbeatMs: ms,
    heartbeat: () => "hb",
    end: signalCallEnd(ac.signal),
  });
  const ticker = heartbeatTicker(ms);
  assert.equal(ticker.size, 1);
  const it = queue[Symbol.asyncIterator]();
  const started = Date.now();
  assert.equal(await nextWithin(it, 1000), "hb");
  assert.ok(Date.now() - started >= ms);
  queue.push("event", { bytes: 1 });
  assert.equal(await nextWithin(it, 1000), "event");
  assert.equal(await nextWithin(it, 1000), "hb");
  queue.end();
  assert.equal(ticker.size, 0);
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});

test("an aborted or failed event queue leaves the ticker", async () => {
  const ms = 41;
  const ticker = heartbeatTicker(ms);
  const ac = new AbortController();
  const make = () =>
    createEventQueue<string>({
      maxBytes: 100,
      heartbeatMs: ms,
      heartbeat: () => "hb",
      end: signalCallEnd(ac.signal),
    });
  const a = make();
  const b = make();
  assert.equal(ticker.size, 2);
  const pending = a[Symbol.asyncIterator]().next();
  b.push("x", { bytes: 60 });
  b.push("y", { bytes: 60 }); // too much: slow consumer
  assert.equal(b.closed, true);
  assert.equal(ticker.size, 1);
  ac.abort();
  await assert.rejects(pending);
  assert.equal(ticker.size, 0);
  // Created on an aborted signal: never registered.
  make();
  assert.equal(ticker.size, 0);
});

test("Subscribe streams heartbeat while idle and leave the ticker when cancelled", async (t) => {
  const ms = 43;
  const h = createHarness({ limits: { heartbeatIntervalMs: ms } });
  t.after(() => h.close());
  const ticker = heartbeatTicker(ms);
  const controllers = [new AbortController(), new AbortController()];
  const its = controllers.map((ac) =>
    h
      .client("alice")
      .subscribe({ rooms: [{ room: "hb-shared" }] }, { signal: ac.signal })
      [Symbol.asyncIterator](),
  );
  for (const it of its) assert.equal((await nextWithin(it)).event.case, "roomState");
  assert.equal(ticker.size, 2);
  for (const it of its) assert.equal((await nextWithin(it, 1000)).event.case, "heartbeat");
  for (const ac of controllers) ac.abort();
  const deadline = Date.now() + 2000;
  while (ticker.size > 0 && Date.now() < deadline) await sleep(5);
  assert.equal(ticker.size, 0);
  assert.equal(h.backend.fanout.activeSubscriptions, 0);
});
