/**
 * End-to-end tests of the bidirectional Chat stream over real sockets. Bidi
 * streaming needs HTTP/2, so it runs on gRPC/h2c, Connect/h2c and grpc-js.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type ChatResponse, PresenceKind } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  type ChatFrame,
  createPushable,
  type ProtocolVariant,
  protocolVariants,
  roomFor,
  waitFor,
} from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

type Event = ChatResponse["event"];
type Of<C extends Event["case"]> = NonNullable<Extract<Event, { case: C }>["value"]>;

/** One open Chat stream whose responses are collected in the background. */
function openChat(v: ProtocolVariant, url: string, token: string) {
  const c = v.open(url, token);
  const reqs = createPushable<ChatFrame>();
  const ac = new AbortController();
  const events: Event[] = [];
  let error: ConnectError | undefined;
  let ended = false;
  const reading = (async () => {
    try {
      for await (const r of c.api.chat(reqs, { timeoutMs: 20_000, signal: ac.signal }))
        events.push(r.event);
    } catch (e) {
      error = ConnectError.from(e);
    } finally {
      ended = true;
    }
  })();
  return {
    events,
    send: (f: ChatFrame) => reqs.push(f),
    join: (room: string, requestId: string) =>
      reqs.push({ requestId, action: { case: "join", value: { position: { room } } } }),
    /** Resolves with the first collected event of `kind` matching `pred`, failing after a bounded wait. */
    async next<C extends Event["case"]>(
      kind: C,
      pred: (v: Of<C>) => boolean = () => true,
    ): Promise<Of<C>> {
      let found: Of<C> | undefined;
      await waitFor(`a ${kind} event`, () => {
        if (error) throw new Error(`stream failed: ${error.message}`);
        const e = events.find((x) => x.case === kind && pred(x.value as Of<C>));
        found = e?.value as Of<C> | undefined;
        return found !== undefined;
      });
      return found!;
    },
    get error() {
      return error;
    },
    get ended() {
      return ended;
    },
    abort: () => ac.abort(),
    async close() {
      reqs.end();
      ac.abort();
      await reading;
      c.close();
    },
  };
}

const bidiVariants = protocolVariants.filter((v) => v.bidiStreaming);
const label = (v: ProtocolVariant) =>
  v.library === "connect-node" ? `${v.name}, HTTP/2 required for bidi` : v.name;

describe("e2e Chat", () => {
  let ts: TestServer;
  let aliceToken: string;
  let bobToken: string;
  before(async () => {
    ts = await startTestServer({ backend: "memory" });
    aliceToken = await ts.token({ subject: "alice", name: "Alice", rooms: ["lobby*"] });
    bobToken = await ts.token({ subject: "bob", name: "Bob", rooms: ["lobby*"] });
  });
  after(async () => {
    await ts?.close();
  });

  for (const v of protocolVariants.filter((x) => !x.bidiStreaming)) {
    it(`Chat over HTTP/1.1 is refused promptly instead of hanging (${v.name})`, async () => {
      const c = v.open(ts.url, aliceToken);
      const reqs = createPushable<ChatFrame>();
      try {
        reqs.push({
          requestId: "j",
          action: { case: "join", value: { position: { room: "lobby-h1" } } },
        });
        const started = Date.now();
        const err = await (async () => {
          try {
            for await (const _ of c.api.chat(reqs, { timeoutMs: 5000 })) return undefined;
          } catch (e) {
            return ConnectError.from(e);
          }
        })();
        assert.ok(err, "the call fails");
        assert.notEqual(err.code, Code.DeadlineExceeded, err.message);
        assert.ok(Date.now() - started < 4000, "fails before the deadline");
      } finally {
        reqs.end();
        c.close();
      }
    });
  }

  for (const v of bidiVariants) {
    it(`join, send with ack and offset, delivery to another participant, presence join and leave (${label(v)})`, async () => {
      const room = roomFor(v, "lobby-chat");
      const alice = openChat(v, ts.url, aliceToken);
      const bob = openChat(v, ts.url, bobToken);
      try {
        alice.join(room, "a-join");
        const aj = await alice.next("joined", (j) => j.requestId === "a-join");
        assert.equal(aj.state?.room, room);
        assert.ok(aj.state?.epoch, "joined carries the room epoch");

        bob.join(room, "b-join");
        const bj = await bob.next("joined", (j) => j.requestId === "b-join");
        assert.ok(
          bj.members.some((m) => m.id === "alice"),
          "bob sees alice among the members",
        );
        const pj = await alice.next("presence", (p) => p.user?.id === "bob");
        assert.equal(pj.kind, PresenceKind.JOIN);
        assert.equal(pj.room, room);

        alice.send({
          requestId: "s1",
          action: { case: "send", value: { room, text: "hi bob", clientMessageId: "c1" } },
        });
        const ack = await alice.next("ack", (a) => a.requestId === "s1");
        assert.equal(ack.clientMessageId, "c1");
        assert.equal(ack.duplicate, false);
        assert.ok((ack.message?.offset ?? 0n) > 0n, "ack carries the stored offset");
        assert.equal(ack.message?.sender?.id, "alice");
        const got = await bob.next("message", (m) => m.text === "hi bob");
        assert.equal(got.offset, ack.message?.offset);
        assert.equal(got.sender?.id, "alice");
        assert.equal(got.sender?.displayName, "Alice");

        alice.send({
          requestId: "s2",
          action: { case: "send", value: { room, text: "hi bob", clientMessageId: "c1" } },
        });
        const dup = await alice.next("ack", (a) => a.requestId === "s2");
        assert.equal(dup.duplicate, true);
        assert.equal(dup.message?.offset, ack.message?.offset);

        bob.send({ requestId: "b-leave", action: { case: "leave", value: { room } } });
        const left = await bob.next("left", (l) => l.requestId === "b-leave");
        assert.equal(left.room, room);
        const pl = await alice.next(
          "presence",
          (p) => p.user?.id === "bob" && p.kind === PresenceKind.LEAVE,
        );
        assert.equal(pl.room, room);
      } finally {
        await alice.close();
        await bob.close();
      }
    });

    it(`a bad frame yields a ChatError with its request_id and the stream goes on (${label(v)})`, async () => {
      const room = roomFor(v, "lobby-bad");
      const alice = openChat(v, ts.url, aliceToken);
      try {
        alice.join(room, "j");
        await alice.next("joined");
        alice.send({
          requestId: "bad-room",
          action: { case: "send", value: { room: "", text: "x" } },
        });
        const e1 = await alice.next("error", (e) => e.requestId === "bad-room");
        assert.equal(e1.code, "invalid_argument");
        assert.match(e1.message, /room/);
        alice.send({ requestId: "no-action" });
        const e2 = await alice.next("error", (e) => e.requestId === "no-action");
        assert.equal(e2.code, "invalid_argument");
        alice.send({
          requestId: "not-joined",
          action: { case: "leave", value: { room: "lobby-never-joined" } },
        });
        await alice.next("error", (e) => e.requestId === "not-joined");
        alice.send({
          requestId: "ok",
          action: { case: "send", value: { room, text: "still here" } },
        });
        const ack = await alice.next("ack", (a) => a.requestId === "ok");
        assert.equal(ack.message?.text, "still here");
        assert.equal(alice.error, undefined);
        assert.equal(alice.ended, false);
      } finally {
        await alice.close();
      }
    });

    it(`cancelling a Chat stream mid-session releases subscriptions and presence, and others see the leave (${label(v)})`, async () => {
      const room = roomFor(v, "lobby-cancel");
      const alice = openChat(v, ts.url, aliceToken);
      const bob = openChat(v, ts.url, bobToken);
      try {
        alice.join(room, "a");
        await alice.next("joined");
        bob.join(room, "b");
        await bob.next("joined");
        await alice.next("presence", (p) => p.user?.id === "bob" && p.kind === PresenceKind.JOIN);
        bob.abort();
        await waitFor("bob's stream to end", () => bob.ended);
        assert.equal(bob.error?.code, Code.Canceled);
        await alice.next("presence", (p) => p.user?.id === "bob" && p.kind === PresenceKind.LEAVE);
        await waitFor("bob gone from presence", async () =>
          (await ts.server.backend.presence.list(room)).every((u) => u.id !== "bob"),
        );
      } finally {
        await alice.close();
        await bob.close();
      }
      await waitFor(
        "no live subscription",
        () => ts.server.backend.fanout.activeSubscriptions === 0,
      );
      await waitFor(
        "room empty",
        async () => (await ts.server.backend.presence.list(room)).length === 0,
      );
    });

    it(`a client deadline ends an idle Chat stream with DeadlineExceeded and releases its resources (${label(v)})`, async () => {
      const room = roomFor(v, "lobby-deadline");
      const c = v.open(ts.url, aliceToken);
      const reqs = createPushable<ChatFrame>();
      try {
        reqs.push({ requestId: "j", action: { case: "join", value: { position: { room } } } });
        const it = c.api.chat(reqs, { timeoutMs: 500 })[Symbol.asyncIterator]();
        const first = await it.next();
        assert.equal(first.value?.event.case, "joined");
        let err: ConnectError | undefined;
        try {
          while (!(await it.next()).done) {
            // skip own presence or heartbeats until the deadline hits
          }
        } catch (e) {
          err = ConnectError.from(e);
        }
        assert.equal(err?.code, Code.DeadlineExceeded, err?.message);
        await waitFor(
          "no live subscription",
          () => ts.server.backend.fanout.activeSubscriptions === 0,
        );
        await waitFor(
          "room empty",
          async () => (await ts.server.backend.presence.list(room)).length === 0,
        );
      } finally {
        reqs.end();
        c.close();
      }
    });
  }
});
