/**
 * End-to-end tests of Subscribe over real sockets, with every protocol variant.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { SubscribeResponse } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { expectConnectError, protocolVariants, pull, roomFor, waitFor } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

const isHeartbeat = (e: SubscribeResponse) => e.event.case === "heartbeat";

function messageOf(e: SubscribeResponse) {
  assert.equal(e.event.case, "message", `expected a message, got ${e.event.case}`);
  return e.event.value as NonNullable<
    Extract<SubscribeResponse["event"], { case: "message" }>["value"]
  >;
}

function stateOf(e: SubscribeResponse) {
  assert.equal(e.event.case, "roomState", `expected a room state, got ${e.event.case}`);
  return e.event.value as NonNullable<
    Extract<SubscribeResponse["event"], { case: "roomState" }>["value"]
  >;
}

describe("e2e Subscribe", () => {
  let ts: TestServer;
  let hb: TestServer;
  let token: string;
  before(async () => {
    ts = await startTestServer({ backend: "memory", limits: { maxRoomsPerSubscription: 3 } });
    hb = await startTestServer({ backend: "memory", heartbeatMs: 150 });
    token = await ts.token({ subject: "alice", rooms: ["lobby*"] });
  });
  after(async () => {
    await ts?.close();
    await hb?.close();
  });
  const fanout = () => ts.server.backend.fanout;

  for (const v of protocolVariants) {
    it(`replays from after_offset=0 then continues live, recovered=true (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      const room = roomFor(v, "lobby-replay");
      try {
        const sent = [];
        for (const text of ["a", "b", "c"]) sent.push((await c.api.send({ room, text })).message!);
        const stream = c.api.subscribe(
          { rooms: [{ room, start: { case: "afterOffset", value: 0n } }] },
          { timeoutMs: 10_000 },
        );
        const it = stream[Symbol.asyncIterator]();
        const st = stateOf(await pull(it, isHeartbeat));
        assert.equal(st.room, room);
        assert.equal(st.recovered, true);
        assert.equal(st.headOffset, sent[2]!.offset);
        assert.equal(st.epoch, sent[0]!.epoch);
        for (const s of sent) assert.equal(messageOf(await pull(it, isHeartbeat)).offset, s.offset);
        const live = (await c.api.send({ room, text: "live" })).message!;
        const got = messageOf(await pull(it, isHeartbeat));
        assert.equal(got.offset, live.offset);
        assert.equal(got.text, "live");
        await it.return?.();
      } finally {
        c.close();
      }
    });

    it(`start last=N replays the newest N; no start means live only (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      const room = roomFor(v, "lobby-last");
      try {
        const sent = [];
        for (const text of ["a", "b", "c"]) sent.push((await c.api.send({ room, text })).message!);
        const it = c.api
          .subscribe(
            { rooms: [{ room, start: { case: "last", value: 2 } }] },
            { timeoutMs: 10_000 },
          )
          [Symbol.asyncIterator]();
        stateOf(await pull(it, isHeartbeat));
        assert.equal(messageOf(await pull(it, isHeartbeat)).offset, sent[1]!.offset);
        assert.equal(messageOf(await pull(it, isHeartbeat)).offset, sent[2]!.offset);
        await it.return?.();
        const liveIt = c.api
          .subscribe({ rooms: [{ room }] }, { timeoutMs: 10_000 })
          [Symbol.asyncIterator]();
        assert.equal(stateOf(await pull(liveIt, isHeartbeat)).headOffset, sent[2]!.offset);
        const live = (await c.api.send({ room, text: "d" })).message!;
        assert.equal(messageOf(await pull(liveIt, isHeartbeat)).offset, live.offset);
        await liveIt.return?.();
      } finally {
        c.close();
      }
    });

    it(`a stale epoch yields recovered=false and a full replay of the current epoch (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      const room = roomFor(v, "lobby-epoch");
      try {
        const a = (await c.api.send({ room, text: "a" })).message!;
        const b = (await c.api.send({ room, text: "b" })).message!;
        const it = c.api
          .subscribe(
            {
              rooms: [
                { room, epoch: "not-the-epoch", start: { case: "afterOffset", value: b.offset } },
              ],
            },
            { timeoutMs: 10_000 },
          )
          [Symbol.asyncIterator]();
        const st = stateOf(await pull(it, isHeartbeat));
        assert.equal(st.recovered, false);
        assert.equal(st.epoch, a.epoch);
        assert.equal(messageOf(await pull(it, isHeartbeat)).offset, a.offset);
        assert.equal(messageOf(await pull(it, isHeartbeat)).offset, b.offset);
        await it.return?.();
      } finally {
        c.close();
      }
    });

    it(`delivers every offset exactly once, in order, across the replay/live seam under concurrent senders (${v.name})`, async () => {
      const room = roomFor(v, "lobby-seam");
      const senders = [0, 1, 2, 3].map(() => v.open(ts.url, token));
      const sub = v.open(ts.url, token);
      try {
        const perSender = 30;
        let stored = 0;
        const sending = Promise.all(
          senders.map(async (s, i) => {
            for (let n = 0; n < perSender; n++) {
              await s.api.send({ room, text: `s${i}-${n}` }, { timeoutMs: 10_000 });
              stored++;
            }
          }),
        );
        await waitFor("some messages stored before subscribing", () => stored >= 10, 10_000);
        const it = sub.api
          .subscribe(
            { rooms: [{ room, start: { case: "afterOffset", value: 0n } }] },
            { timeoutMs: 20_000 },
          )
          [Symbol.asyncIterator]();
        stateOf(await pull(it, isHeartbeat));
        const received: bigint[] = [];
        while (received.length < senders.length * perSender) {
          received.push(messageOf(await pull(it, isHeartbeat)).offset);
        }
        await sending;
        await it.return?.();
        for (let i = 1; i < received.length; i++) {
          assert.ok(
            received[i]! > received[i - 1]!,
            `offset ${received[i]} after ${received[i - 1]}`,
          );
        }
        const h = await sub.api.history(
          { room, direction: 1, offset: 0n, limit: 1000 },
          { timeoutMs: 5000 },
        );
        assert.deepEqual(
          received,
          h.messages.map((m) => m.offset),
          "the subscriber saw exactly the stored offsets",
        );
      } finally {
        for (const s of senders) s.close();
        sub.close();
      }
    });

    it(`a client deadline on an idle subscription ends with DeadlineExceeded and frees the server subscription (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      try {
        const it = c.api
          .subscribe({ rooms: [{ room: roomFor(v, "lobby-idle") }] }, { timeoutMs: 400 })
          [Symbol.asyncIterator]();
        stateOf(await pull(it));
        await waitFor("a live server subscription", () => fanout().activeSubscriptions >= 1);
        const err = await expectConnectError(pull(it, isHeartbeat));
        assert.equal(err.code, Code.DeadlineExceeded, err.message);
        await waitFor("server subscriptions back to 0", () => fanout().activeSubscriptions === 0);
      } finally {
        c.close();
      }
    });

    it(`aborting a subscription mid-stream releases the server subscription (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      const ac = new AbortController();
      try {
        const it = c.api
          .subscribe(
            { rooms: [{ room: roomFor(v, "lobby-abort") }, { room: roomFor(v, "lobby-abort2") }] },
            { timeoutMs: 10_000, signal: ac.signal },
          )
          [Symbol.asyncIterator]();
        stateOf(await pull(it));
        await waitFor("live server subscriptions", () => fanout().activeSubscriptions >= 1);
        const pending = pull(it, () => true); // only an error ends this
        ac.abort();
        const err = await expectConnectError(pending);
        assert.equal(err.code, Code.Canceled, err.message);
        await waitFor("server subscriptions back to 0", () => fanout().activeSubscriptions === 0);
      } finally {
        c.close();
      }
    });

    const invalid: [string, { rooms: { room: string }[] }, RegExp][] = [
      ["no rooms", { rooms: [] }, /rooms/],
      ["an empty room name", { rooms: [{ room: "" }] }, /room/],
      ["the same room twice", { rooms: [{ room: "lobby-x" }, { room: "lobby-x" }] }, /room/],
      [
        "more rooms than the limit",
        { rooms: ["a", "b", "c", "d"].map((r) => ({ room: `lobby-${r}` })) },
        /rooms/,
      ],
    ];
    for (const [what, req, field] of invalid) {
      it(`rejects ${what} with InvalidArgument naming the field (${v.name})`, async () => {
        const c = v.open(ts.url, token);
        try {
          const err = await expectConnectError(async () => {
            for await (const _ of c.api.subscribe(req, { timeoutMs: 5000 })) return;
          });
          assert.equal(err.code, Code.InvalidArgument, err.message);
          assert.match(err.rawMessage, field);
          await waitFor("no leaked subscription", () => fanout().activeSubscriptions === 0);
        } finally {
          c.close();
        }
      });
    }

    it(`sends a heartbeat on an idle subscription when the interval is short (${v.name})`, async () => {
      const c = v.open(hb.url, await hb.token({ subject: "alice", rooms: ["lobby*"] }));
      try {
        const it = c.api
          .subscribe({ rooms: [{ room: "lobby-hb" }] }, { timeoutMs: 5000 })
          [Symbol.asyncIterator]();
        stateOf(await pull(it));
        const ev = await pull(it);
        assert.equal(ev.event.case, "heartbeat");
        assert.ok(
          ev.event.case === "heartbeat" && (ev.event.value.time?.seconds ?? 0n) > 0n,
          "heartbeat carries the time",
        );
        await it.return?.();
        await waitFor(
          "subscription released",
          () => hb.server.backend.fanout.activeSubscriptions === 0,
        );
      } finally {
        c.close();
      }
    });
  }
});
