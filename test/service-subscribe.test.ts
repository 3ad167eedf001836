import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Backend } from "../src/backend/types.js";
import type { SubscribeResponse } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  connectErrorOf,
  createHarness,
  describe,
  eventually,
  type Harness,
  nextWithin,
} from "./service-harness.js";

type Event = SubscribeResponse["event"];

async function sendMany(h: Harness, room: string, count: number, prefix = "m"): Promise<void> {
  const alice = h.client("alice");
  for (let i = 1; i <= count; i++) await alice.send({ room, text: `${prefix}${i}` });
}

/** Reads events until `count` messages arrived (heartbeats ignored). */
async function readMessages(it: AsyncIterator<SubscribeResponse>, count: number): Promise<Event[]> {
  const events: Event[] = [];
  while (events.filter((e) => e.case === "message").length < count) {
    const res = await nextWithin(it);
    if (res.event.case !== "heartbeat") events.push(res.event);
  }
  return events;
}

test("starts with room_state, replays after_offset, then delivers live messages", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  await sendMany(h, "sub.a", 3);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const it = h
    .client("alice")
    .subscribe(
      { rooms: [{ room: "sub.a", start: { case: "afterOffset", value: 1n } }] },
      { signal: ac.signal },
    )
    [Symbol.asyncIterator]();
  const first = await nextWithin(it);
  assert.equal(first.event.case, "roomState");
  if (first.event.case === "roomState") {
    assert.equal(first.event.value.room, "sub.a");
    assert.equal(first.event.value.headOffset, 3n);
    assert.equal(first.event.value.recovered, true);
  }
  const replayed = await readMessages(it, 2);
  assert.deepEqual(
    replayed.map((e) => (e.case === "message" ? e.value.text : e.case)),
    ["m2", "m3"],
  );
  await h.client("alice").send({ room: "sub.a", text: "live" });
  const live = await readMessages(it, 1);
  assert.equal(live[0]?.case === "message" && live[0].value.text, "live");
});

test("no start is live only; last K replays the newest K", async (t) => {
  const h = createHarness({ limits: { replayPageSize: 2 } });
  t.after(() => h.close());
  await sendMany(h, "sub.b", 5);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const live = h
    .client("alice")
    .subscribe({ rooms: [{ room: "sub.b" }] }, { signal: ac.signal })
    [Symbol.asyncIterator]();
  const last = h
    .client("alice")
    .subscribe(
      { rooms: [{ room: "sub.b", start: { case: "last", value: 3 } }] },
      { signal: ac.signal },
    )
    [Symbol.asyncIterator]();
  assert.equal((await nextWithin(live)).event.case, "roomState");
  const lastEvents = await readMessages(last, 3);
  assert.deepEqual(
    lastEvents.filter((e) => e.case === "message").map((e) => e.value.text),
    ["m3", "m4", "m5"],
  );
  await h.client("alice").send({ room: "sub.b", text: "new" });
  const liveEvents = await readMessages(live, 1);
  assert.equal(liveEvents[0]?.case === "message" && liveEvents[0].value.text, "new");
  const after = await readMessages(last, 1);
  assert.equal(after[0]?.case === "message" && after[0].value.text, "new");
});

test("replay and live meet with no gap and no duplicate while senders run concurrently", async (t) => {
  const h = createHarness({ limits: { replayPageSize: 7 } });
  t.after(() => h.close());
  const room = "sub.seam";
  await sendMany(h, room, 50, "pre");
  const senders = [0, 1, 2].map(async (n) => {
    const alice = h.client("alice");
    for (let i = 0; i < 40; i++) {
      await alice.send({ room, text: `s${n}-${i}` });
      if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const subscribers = [0n, 10n, 49n].map((from) =>
    h
      .client("alice")
      .subscribe(
        { rooms: [{ room, start: { case: "afterOffset", value: from } }] },
        { signal: ac.signal },
      )
      [Symbol.asyncIterator](),
  );
  await Promise.all(senders);
  const total = 50 + 3 * 40;
  const froms = [0n, 10n, 49n];
  for (const [i, it] of subscribers.entries()) {
    const from = froms[i] ?? 0n;
    const events = await readMessages(it, total - Number(from));
    const offsets = events.filter((e) => e.case === "message").map((e) => e.value.offset);
    const expected = Array.from({ length: total - Number(from) }, (_, k) => from + BigInt(k + 1));
    assert.deepEqual(offsets, expected, `subscriber from ${from}`);
  }
});

test("a stale epoch or a trimmed offset replays everything with recovered=false", async (t) => {
  let trimmed = 0n;
  const h = createHarness({
    wrap: (backend: Backend): Backend => ({
      ...backend,
      log: {
        append: (input, signal) => backend.log.append(input, signal),
        read: (room, query, signal) => backend.log.read(room, query, signal),
        info: async (room, signal) => ({
          ...(await backend.log.info(room, signal)),
          trimmedThrough: trimmed,
        }),
      },
    }),
  });
  t.after(() => h.close());
  await sendMany(h, "sub.epoch", 3);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const subscribe = (epoch: string, after: bigint) =>
    h
      .client("alice")
      .subscribe(
        { rooms: [{ room: "sub.epoch", epoch, start: { case: "afterOffset", value: after } }] },
        { signal: ac.signal },
      )
      [Symbol.asyncIterator]();

  const stale = subscribe("some-old-epoch", 2n);
  const state = await nextWithin(stale);
  assert.ok(state.event.case === "roomState");
  assert.equal(state.event.value.recovered, false);
  const epoch = state.event.value.epoch;
  const all = await readMessages(stale, 3);
  assert.deepEqual(
    all.map((e) => (e.case === "message" ? e.value.offset : -1n)),
    [1n, 2n, 3n],
  );

  const same = subscribe(epoch, 2n);
  const sameState = await nextWithin(same);
  assert.ok(sameState.event.case === "roomState" && sameState.event.value.recovered);
  const rest = await readMessages(same, 1);
  assert.ok(rest[0]?.case === "message" && rest[0].value.offset === 3n);

  trimmed = 2n;
  const gone = subscribe(epoch, 1n);
  const goneState = await nextWithin(gone);
  assert.ok(goneState.event.case === "roomState" && !goneState.event.value.recovered);
  const replay = await readMessages(gone, 1);
  assert.ok(replay[0]?.case === "message" && replay[0].value.offset === 1n);
});

test("cancelling the call closes every fan-out subscription at once", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const ac = new AbortController();
  const it = h
    .client("alice")
    .subscribe({ rooms: [{ room: "c1" }, { room: "c2" }, { room: "c3" }] }, { signal: ac.signal })
    [Symbol.asyncIterator]();
  for (let i = 0; i < 3; i++) assert.equal((await nextWithin(it)).event.case, "roomState");
  assert.equal(h.backend.fanout.activeSubscriptions, 3);
  ac.abort();
  await assert.rejects(it.next());
  await eventually(() => h.backend.fanout.activeSubscriptions === 0);
});

test("a deadline ends the stream with DeadlineExceeded and releases subscriptions", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const err = await connectErrorOf(async () => {
    for await (const _ of h
      .client("alice")
      .subscribe({ rooms: [{ room: "dl" }] }, { timeoutMs: 100 })) {
      // wait for the deadline
    }
  });
  assert.equal(describe(err).code, "DeadlineExceeded");
  await eventually(() => h.backend.fanout.activeSubscriptions === 0);
});

test("invalid rooms are InvalidArgument naming rooms[i]; forbidden rooms are PermissionDenied", async (t) => {
  const h = createHarness({ limits: { maxRoomsPerSubscription: 2 } });
  t.after(() => h.close());
  const first = async (user: string, rooms: { room: string }[]) =>
    connectErrorOf(async () => {
      for await (const _ of h.client(user).subscribe({ rooms })) return;
    });
  let err = await first("alice", [{ room: "ok" }, { room: "bad room" }]);
  assert.equal(describe(err).code, "InvalidArgument");
  assert.match(err.rawMessage, /^rooms\[1\]\.room: must be 1-128 characters/);
  err = await first("alice", [{ room: "a" }, { room: "a" }]);
  assert.match(err.rawMessage, /^rooms\[1\]\.room: duplicates rooms\[0\]/);
  err = await first("alice", []);
  assert.match(err.rawMessage, /^rooms: must name at least one room/);
  err = await first("alice", [{ room: "a" }, { room: "b" }, { room: "c" }]);
  assert.match(err.rawMessage, /^rooms: at most 2 rooms/);
  err = await first("bob", [{ room: "public.a" }, { room: "secret" }]);
  assert.equal(describe(err).code, "PermissionDenied");
  assert.match(err.rawMessage, /"secret"/);
  assert.equal(h.backend.fanout.activeSubscriptions, 0);
});

test("a consumer that falls behind is ended with ResourceExhausted naming the last delivered offsets", async (t) => {
  const h = createHarness({ limits: { maxQueueBytes: 2000 } });
  t.after(() => h.close());
  await sendMany(h, "slow", 2);
  const it = h
    .client("alice")
    .subscribe({ rooms: [{ room: "slow", start: { case: "afterOffset", value: 0n } }] })
    [Symbol.asyncIterator]();
  assert.equal((await nextWithin(it)).event.case, "roomState");
  await readMessages(it, 1);
  // Stop reading while many large messages arrive.
  await sendMany(h, "slow", 60, "x".repeat(200));
  const err = await connectErrorOf(async () => {
    for (;;) {
      const res = await nextWithin(it);
      if (res.event.case === "heartbeat") continue;
    }
  });
  assert.equal(describe(err).code, "ResourceExhausted");
  assert.match(err.rawMessage, /^slow consumer: .*slow=\d+/);
  await eventually(() => h.backend.fanout.activeSubscriptions === 0);
});

test("an idle stream receives heartbeats at the configured interval", async (t) => {
  const h = createHarness({ limits: { heartbeatIntervalMs: 50 } });
  t.after(() => h.close());
  const ac = new AbortController();
  t.after(() => ac.abort());
  const it = h
    .client("alice")
    .subscribe({ rooms: [{ room: "hb" }] }, { signal: ac.signal })
    [Symbol.asyncIterator]();
  assert.equal((await nextWithin(it)).event.case, "roomState");
  const started = Date.now();
  const hb = await nextWithin(it, 1000);
  assert.equal(hb.event.case, "heartbeat");
  assert.ok(hb.event.case === "heartbeat" && hb.event.value.time);
  assert.ok(Date.now() - started >= 30);
  assert.equal((await nextWithin(it, 1000)).event.case, "heartbeat");
});

test("a backend failure during replay ends the stream with the mapped code, never leaking internals", async (t) => {
  const h = createHarness({
    wrap: (backend: Backend): Backend => ({
      ...backend,
      log: {
        ...backend.log,
        append: (input, signal) => backend.log.append(input, signal),
        info: (room, signal) => backend.log.info(room, signal),
        read: async () => {
          throw new Error("disk on fire at /var/lib/secret");
        },
      },
    }),
  });
  t.after(() => h.close());
  const err = await connectErrorOf(async () => {
    for await (const _ of h
      .client("alice")
      .subscribe({ rooms: [{ room: "boom", start: { case: "afterOffset", value: 0n } }] })) {
      // room_state, then the error
    }
  });
  assert.equal(describe(err).code, "Internal");
  assert.equal(err.rawMessage, "internal error");
  assert.ok(!(err instanceof ConnectError && err.message.includes("secret")));
  assert.equal(Code[err.code], "Internal");
  await eventually(() => h.backend.fanout.activeSubscriptions === 0);
});
