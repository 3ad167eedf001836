import assert from "node:assert/strict";
import { test } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type ChatRequestSchema,
  type ChatResponse,
  PresenceKind,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  connectErrorOf,
  createHarness,
  createPushable,
  describe,
  eventually,
  type Harness,
  nextWithin,
} from "./service-harness.js";

type Frame = MessageInitShape<typeof ChatRequestSchema>;
type Event = ChatResponse["event"];

interface Session {
  send(frame: Frame): void;
  /** Next non-heartbeat event. */
  next(): Promise<Event>;
  /** Next event of a given kind, skipping others (collected in `skipped`). */
  until<K extends Event["case"]>(kind: K): Promise<Extract<Event, { case: K }>>;
  end(): void;
  abort(): void;
  readonly iterator: AsyncIterator<ChatResponse>;
}

function open(h: Harness, user: string, t: { after(fn: () => void): void }): Session {
  const frames = createPushable<Frame>();
  const ac = new AbortController();
  t.after(() => ac.abort());
  const iterator = h.client(user).chat(frames, { signal: ac.signal })[Symbol.asyncIterator]();
  const next = async (): Promise<Event> => {
    for (;;) {
      const res = await nextWithin(iterator);
      if (res.event.case !== "heartbeat") return res.event;
    }
  };
  return {
    iterator,
    send: (frame) => frames.push(frame),
    next,
    async until(kind) {
      for (;;) {
        const event = await next();
        if (event.case === kind) return event as never;
      }
    },
    end: () => frames.end(),
    abort: () => ac.abort(),
  };
}

const join = (room: string, requestId = `join-${room}`, after?: bigint): Frame => ({
  requestId,
  action: {
    case: "join",
    value: {
      position: {
        room,
        ...(after !== undefined ? { start: { case: "afterOffset" as const, value: after } } : {}),
      },
    },
  },
});

test("join answers RoomJoined with state and members, then replays and delivers messages; send is acked", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  await h.client("alice").send({ room: "chat.a", text: "before" });
  const s = open(h, "alice", t);
  s.send(join("chat.a", "j1", 0n));
  const joined = await s.next();
  assert.equal(joined.case, "joined");
  if (joined.case === "joined") {
    assert.equal(joined.value.requestId, "j1");
    assert.equal(joined.value.state?.room, "chat.a");
    assert.equal(joined.value.state?.headOffset, 1n);
    assert.equal(joined.value.state?.recovered, true);
    assert.deepEqual(
      joined.value.members.map((m) => m.id),
      ["alice"],
    );
  }
  const replayed = await s.until("message");
  assert.equal(replayed.value.text, "before");

  s.send({
    requestId: "s1",
    action: { case: "send", value: { room: "chat.a", text: "hi", clientMessageId: "c1" } },
  });
  const events = [await s.next(), await s.next()];
  const ack = events.find((e) => e.case === "ack");
  const message = events.find((e) => e.case === "message");
  assert.ok(ack?.case === "ack");
  assert.equal(ack.value.requestId, "s1");
  assert.equal(ack.value.clientMessageId, "c1");
  assert.equal(ack.value.duplicate, false);
  assert.equal(ack.value.message?.text, "hi");
  assert.ok(message?.case === "message" && message.value.offset === 2n);

  s.send({
    requestId: "s2",
    action: { case: "send", value: { room: "chat.a", text: "again", clientMessageId: "c1" } },
  });
  const dup = await s.until("ack");
  assert.equal(dup.value.duplicate, true);
  assert.equal(dup.value.message?.text, "hi");
});

test("a failing frame becomes a ChatError with its request_id and code, and the stream goes on", async (t) => {
  const h = createHarness({ limits: { maxTextBytes: 5 } });
  t.after(() => h.close());
  const s = open(h, "bob", t);
  const expectError = async (frame: Frame, code: string, message: RegExp, room: string) => {
    s.send(frame);
    const event = await s.until("error");
    assert.equal(event.value.requestId, frame.requestId);
    assert.equal(event.value.code, code, event.value.message);
    assert.match(event.value.message, message);
    assert.equal(event.value.room, room);
  };
  await expectError(
    join("bad room", "e1"),
    "invalid_argument",
    /^join\.position\.room: /,
    "bad room",
  );
  await expectError(join("secret", "e2"), "permission_denied", /"secret"/, "secret");
  await expectError({ requestId: "e3" }, "invalid_argument", /^action: /, "");
  await expectError(
    { requestId: "e4", action: { case: "send", value: { room: "public.x", text: "too long" } } },
    "invalid_argument",
    /^send\.text: must be at most 5 bytes/,
    "public.x",
  );
  await expectError(
    { requestId: "e5", action: { case: "send", value: { room: "secret", text: "x" } } },
    "permission_denied",
    /"secret"/,
    "secret",
  );
  await expectError(
    { requestId: "e6", action: { case: "leave", value: { room: "public.x" } } },
    "failed_precondition",
    /^leave\.room: not joined/,
    "public.x",
  );
  await expectError(
    { requestId: "e7", action: { case: "join", value: {} } },
    "invalid_argument",
    /^join\.position: is required/,
    "",
  );
  // An invalid request_id is not echoed back (it would come back mangled).
  s.send({ ...join("public.y", "e9"), requestId: "x".repeat(129) });
  const badId = await s.until("error");
  assert.equal(badId.value.requestId, "");
  assert.match(badId.value.message, /^request_id: must be at most 128 characters/);
  await expectError(
    {
      requestId: "e10",
      action: { case: "join", value: { position: { room: "public.x", epoch: "e".repeat(129) } } },
    },
    "invalid_argument",
    /^join\.position\.epoch: must be at most 128 characters of valid UTF-8/,
    "public.x",
  );
  s.send(join("public.x", "ok"));
  assert.equal((await s.until("joined")).value.requestId, "ok");
  await expectError(join("public.x", "e8"), "already_exists", /already joined/, "public.x");
  // Still alive: a good send is acked.
  s.send({ requestId: "fine", action: { case: "send", value: { room: "public.x", text: "ok" } } });
  assert.equal((await s.until("ack")).value.requestId, "fine");
});

test("presence of joined rooms is forwarded; leave answers RoomLeft and stops messages", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const a = open(h, "alice", t);
  a.send(join("chat.p"));
  await a.until("joined");
  const b = open(h, "carol", t);
  b.send(join("chat.p"));
  const joinedB = await b.until("joined");
  assert.deepEqual(joinedB.value.members.map((m) => m.id).sort(), ["alice", "carol"]);
  const arrived = await a.until("presence");
  assert.equal(arrived.value.kind, PresenceKind.JOIN);
  assert.equal(arrived.value.user?.id, "carol");
  assert.equal(arrived.value.room, "chat.p");

  b.send({ requestId: "bye", action: { case: "leave", value: { room: "chat.p" } } });
  const left = await b.until("left");
  assert.equal(left.value.requestId, "bye");
  assert.equal(left.value.room, "chat.p");
  const gone = await a.until("presence");
  assert.equal(gone.value.kind, PresenceKind.LEAVE);
  assert.equal(gone.value.user?.id, "carol");

  await h.client("alice").send({ room: "chat.p", text: "after leave" });
  assert.equal((await a.until("message")).value.text, "after leave");
  b.send({ requestId: "probe", action: { case: "send", value: { room: "chat.p", text: "x" } } });
  // carol may not publish: the error arrives, and no message of chat.p came before it.
  const next = await b.next();
  assert.equal(next.case, "error");
});

test("however the stream ends, subscriptions, presence and watchers are released", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const watcher = open(h, "alice", t);
  watcher.send(join("chat.r0"));
  await watcher.until("joined");
  const base = h.backend.fanout.activeSubscriptions;

  // 1. cancel
  const s1 = open(h, "carol", t);
  s1.send(join("chat.r0"));
  s1.send(join("chat.r1"));
  await s1.until("joined");
  await s1.until("joined");
  assert.equal(h.backend.fanout.activeSubscriptions, base + 2);
  s1.abort();
  await eventually(() => h.backend.fanout.activeSubscriptions === base);
  const seen = [await watcher.until("presence"), await watcher.until("presence")];
  assert.deepEqual(
    seen.map((e) => [e.value.kind, e.value.user?.id]),
    [
      [PresenceKind.JOIN, "carol"],
      [PresenceKind.LEAVE, "carol"],
    ],
  );
  assert.deepEqual(
    (await h.backend.presence.list("chat.r1")).map((u) => u.id),
    [],
  );

  // 2. client half-close: answers are written, then the stream ends.
  const s2 = open(h, "carol", t);
  s2.send(join("chat.r2"));
  s2.end();
  assert.equal((await s2.until("joined")).value.state?.room, "chat.r2");
  await assert.rejects(nextWithin(s2.iterator), /stream ended/);
  await eventually(() => h.backend.fanout.activeSubscriptions === base);
  assert.deepEqual(await h.backend.presence.list("chat.r2"), []);
});

test("a chat reader that falls behind is ended with ResourceExhausted", async (t) => {
  const h = createHarness({ limits: { maxQueueBytes: 2000 } });
  t.after(() => h.close());
  const s = open(h, "alice", t);
  s.send(join("chat.slow"));
  await s.until("joined");
  const alice = h.client("alice");
  for (let i = 0; i < 60; i++) await alice.send({ room: "chat.slow", text: "y".repeat(200) });
  const err = await connectErrorOf(async () => {
    for (;;) await s.next();
  });
  assert.equal(describe(err).code, "ResourceExhausted");
  assert.match(err.rawMessage, /^slow consumer: /);
  await eventually(() => h.backend.fanout.activeSubscriptions === 0);
});

test("an idle chat stream receives heartbeats", async (t) => {
  const h = createHarness({ limits: { heartbeatIntervalMs: 40 } });
  t.after(() => h.close());
  const s = open(h, "alice", t);
  const res = await nextWithin(s.iterator, 1000);
  assert.equal(res.event.case, "heartbeat");
});
