import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendUnavailableError } from "../src/backend/errors.js";
import type { Backend, FanOut, FanOutSubscription } from "../src/backend/types.js";
import {
  connectErrorOf,
  createHarness,
  createPushable,
  describe,
  eventually,
  nextWithin,
} from "./service-harness.js";

/** Reads `it` until it fails; a stream that hangs fails with "no event within …" (Unknown). */
function endOf<T>(it: AsyncIterator<T>) {
  return connectErrorOf(async () => {
    for (;;) await nextWithin(it);
  });
}

/**
 * Wraps a backend so the test can make it end every open fan-out subscription
 * (as a cluster backend does when it loses its broker), per the FanOut contract.
 */
function losable(inner: Backend) {
  const open = new Set<{ sub: FanOutSubscription; onEnd?: (reason: Error) => void }>();
  const fanout: FanOut = {
    get activeSubscriptions() {
      return inner.fanout.activeSubscriptions;
    },
    async subscribe(room, listener, options) {
      const sub = await inner.fanout.subscribe(room, listener, options);
      const entry = { sub, onEnd: options?.onEnd };
      open.add(entry);
      return {
        close() {
          open.delete(entry);
          sub.close();
        },
      };
    },
  };
  return {
    backend: { ...inner, fanout } satisfies Backend,
    lose(reason: Error) {
      for (const entry of [...open]) {
        open.delete(entry);
        entry.sub.close();
        entry.onEnd?.(reason);
      }
    },
  };
}

test("a live Subscribe stream ends with Unavailable when the backend closes, instead of hanging", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const ac = new AbortController();
  t.after(() => ac.abort());
  const it = h
    .client("alice")
    .subscribe({ rooms: [{ room: "bc.a" }, { room: "bc.b" }] }, { signal: ac.signal })
    [Symbol.asyncIterator]();
  assert.equal((await nextWithin(it)).event.case, "roomState");
  assert.equal((await nextWithin(it)).event.case, "roomState");
  await h.client("alice").send({ room: "bc.a", text: "live" });
  assert.equal((await nextWithin(it)).event.case, "message");
  assert.equal(h.backend.fanout.activeSubscriptions, 2);

  await h.backend.close();
  const err = await endOf(it);
  assert.deepEqual(describe(err), { code: "Unavailable", message: "server is shutting down" });
  assert.equal(h.backend.fanout.activeSubscriptions, 0);
});

test("a Chat stream with a joined room ends with Unavailable when the backend closes", async (t) => {
  const h = createHarness();
  t.after(() => h.close());
  const ac = new AbortController();
  t.after(() => ac.abort());
  const frames = createPushable<{
    requestId: string;
    action: { case: "join"; value: { position: { room: string } } };
  }>();
  t.after(() => frames.end());
  const it = h.client("alice").chat(frames, { signal: ac.signal })[Symbol.asyncIterator]();
  frames.push({
    requestId: "j",
    action: { case: "join", value: { position: { room: "bc.chat" } } },
  });
  assert.equal((await nextWithin(it)).event.case, "joined");

  await h.backend.close();
  const err = await endOf(it);
  assert.deepEqual(describe(err), { code: "Unavailable", message: "server is shutting down" });
  assert.equal(h.backend.fanout.activeSubscriptions, 0);
});

test("a Subscribe stream ends with Unavailable when the backend loses its live subscription, without leaking the reason", async (t) => {
  let control: ReturnType<typeof losable> | undefined;
  const h = createHarness({
    wrap: (backend) => {
      control = losable(backend);
      return control.backend;
    },
  });
  t.after(() => h.close());
  const ac = new AbortController();
  t.after(() => ac.abort());
  const it = h
    .client("alice")
    .subscribe({ rooms: [{ room: "bc.lost" }] }, { signal: ac.signal })
    [Symbol.asyncIterator]();
  assert.equal((await nextWithin(it)).event.case, "roomState");
  assert.equal(h.backend.fanout.activeSubscriptions, 1);

  control?.lose(new BackendUnavailableError("broker nats://10.0.0.7 went away"));
  const err = await endOf(it);
  assert.deepEqual(describe(err), { code: "Unavailable", message: "backend unavailable" });
  assert.ok(!err.message.includes("10.0.0.7"));
  await eventually(() => h.backend.fanout.activeSubscriptions === 0);
  // The backend itself still works: a new stream can subscribe.
  await h.client("alice").send({ room: "bc.lost", text: "still here" });
});

test("a subscription lost while history is replayed ends the stream with Unavailable instead of going live", async (t) => {
  let control: ReturnType<typeof losable> | undefined;
  const h = createHarness({
    wrap: (backend) => {
      control = losable(backend);
      return {
        ...control.backend,
        log: {
          ...backend.log,
          append: (input, signal) => backend.log.append(input, signal),
          info: (room, signal) => backend.log.info(room, signal),
          read: async (room, query, signal) => {
            const page = await backend.log.read(room, query, signal);
            if (room === "bc.replay") control?.lose(new BackendUnavailableError("lost"));
            return page;
          },
        },
      };
    },
  });
  t.after(() => h.close());
  for (let i = 0; i < 3; i++) await h.client("alice").send({ room: "bc.replay", text: `m${i}` });
  const err = await connectErrorOf(async () => {
    for await (const _ of h
      .client("alice")
      .subscribe(
        { rooms: [{ room: "bc.replay", start: { case: "afterOffset", value: 0n } }] },
        { timeoutMs: 2000 },
      )) {
      // room_state, maybe some history, then the error
    }
  });
  assert.deepEqual(describe(err), { code: "Unavailable", message: "backend unavailable" });
  await eventually(() => h.backend.fanout.activeSubscriptions === 0);
});
