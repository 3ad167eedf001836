import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BackendClosedError,
  BackendUnavailableError,
  NotFoundError,
  OutOfRangeError,
} from "../src/backend/errors.js";
import { signalCallEnd } from "../src/service/call-end.js";
import { rechunk } from "../src/service/download.js";
import { codeName, toConnectError } from "../src/service/errors.js";
import { createEventQueue } from "../src/service/event-queue.js";
import { resolveServiceLimits } from "../src/service/limits.js";
import {
  validateContentType,
  validateFileName,
  validateHistoryLimit,
  validateRoom,
  validateText,
} from "../src/service/validate.js";

test("backend errors map to one Connect code each; unknown errors become a non-leaking Internal", () => {
  assert.equal(toConnectError(new NotFoundError("file x not found")).code, Code.NotFound);
  assert.equal(
    toConnectError(new NotFoundError("file x not found")).rawMessage,
    "file x not found",
  );
  assert.equal(toConnectError(new OutOfRangeError("past end")).code, Code.OutOfRange);
  assert.equal(
    toConnectError(new BackendUnavailableError("db at 10.0.0.1 down")).code,
    Code.Unavailable,
  );
  assert.equal(
    toConnectError(new BackendUnavailableError("db at 10.0.0.1 down")).rawMessage,
    "backend unavailable",
  );
  assert.equal(toConnectError(new BackendClosedError()).code, Code.Unavailable);
  const original = new Error("SQLITE_CORRUPT /data/x.db");
  const internal = toConnectError(original);
  assert.equal(internal.code, Code.Internal);
  assert.equal(internal.rawMessage, "internal error");
  assert.equal(internal.cause, original);
  const passthrough = new ConnectError("nope", Code.PermissionDenied);
  assert.equal(toConnectError(passthrough), passthrough);
});

test("aborts map to Canceled, or to the deadline error connect-es aborted with", () => {
  const cancel = new AbortController();
  cancel.abort();
  assert.equal(toConnectError(new Error("whatever"), cancel.signal).code, Code.Canceled);
  const deadline = new AbortController();
  deadline.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
  assert.equal(toConnectError(new Error("x"), deadline.signal).code, Code.DeadlineExceeded);
  assert.equal(toConnectError(new DOMException("t", "TimeoutError")).code, Code.DeadlineExceeded);
  assert.equal(toConnectError(new DOMException("a", "AbortError")).code, Code.Canceled);
  assert.equal(
    toConnectError(new ConnectError("parse binary: bad utf-8", Code.Internal)).code,
    Code.InvalidArgument,
  );
});

test("codeName gives the Connect snake_case names", () => {
  assert.equal(codeName(Code.InvalidArgument), "invalid_argument");
  assert.equal(codeName(Code.PermissionDenied), "permission_denied");
  assert.equal(codeName(Code.Canceled), "canceled");
  assert.equal(codeName(Code.DeadlineExceeded), "deadline_exceeded");
});

test("validators accept the documented alphabet and limits and name the field", () => {
  assert.equal(validateRoom("a-b_c.d:e@f", "room"), "a-b_c.d:e@f");
  assert.equal(validateRoom("r".repeat(128), "room").length, 128);
  assert.throws(
    () => validateRoom("é", "rooms[2].room"),
    /^ConnectError: \[invalid_argument\] rooms\[2\]\.room: /,
  );
  assert.equal(validateText("😀".repeat(4), "text", 16), "😀".repeat(4));
  assert.throws(() => validateText("😀".repeat(5), "text", 16), /text: must be at most 16 bytes/);
  assert.throws(() => validateText("a\udc00", "text", 16), /text: must be valid UTF-8/);
  assert.equal(validateFileName("résumé (final).pdf", "name"), "résumé (final).pdf");
  assert.throws(() => validateFileName("..", "name"), /name: must not be/);
  assert.throws(() => validateFileName("a\u007fb", "name"), /control/);
  assert.equal(validateContentType("", "ct"), "application/octet-stream");
  assert.equal(
    validateContentType('text/plain; charset="utf-8"', "ct"),
    'text/plain; charset="utf-8"',
  );
  assert.throws(
    () => validateContentType("text", "ct"),
    /^ConnectError: \[invalid_argument\] ct: /,
  );
  assert.equal(validateHistoryLimit(0, "limit"), 100);
  assert.equal(validateHistoryLimit(1000, "limit"), 1000);
});

test("limits fill defaults and refuse non-positive or unknown values", () => {
  assert.equal(resolveServiceLimits().maxTextBytes, 16 * 1024);
  assert.equal(resolveServiceLimits({ maxQueueBytes: 5 }).maxQueueBytes, 5);
  assert.throws(() => resolveServiceLimits({ maxQueueBytes: 0 }), /positive integer/);
  assert.throws(() => resolveServiceLimits({ nope: 1 } as never), /unknown service limit/);
});

test("rechunk re-slices any input into chunks of the requested size", async () => {
  async function* source() {
    yield new Uint8Array([1, 2, 3]);
    yield new Uint8Array([4]);
    yield new Uint8Array([5, 6, 7, 8, 9, 10, 11]);
    yield new Uint8Array([]);
  }
  const out: number[][] = [];
  for await (const chunk of rechunk(source(), 4)) out.push([...chunk]);
  assert.deepEqual(out, [
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 10, 11],
  ]);
});

test("the event queue delivers in order, ends after draining, and waits writers for space", async () => {
  const ac = new AbortController();
  const q = createEventQueue<string>({
    maxBytes: 10,
    heartbeatMs: 10_000,
    heartbeat: () => "hb",
    end: signalCallEnd(ac.signal),
  });
  assert.equal(q.push("a", { bytes: 6 }), true);
  let writable = false;
  const waiting = q.whenWritable(6).then(() => {
    writable = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(writable, false);
  const it = q[Symbol.asyncIterator]();
  assert.deepEqual(await it.next(), { done: false, value: "a" });
  await waiting;
  assert.equal(writable, true);
  q.push("b", { bytes: 6 });
  q.end();
  assert.deepEqual(await it.next(), { done: false, value: "b" });
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});

test("the event queue fails a slow consumer with the last delivered offset per room", async () => {
  const ac = new AbortController();
  const q = createEventQueue<string>({
    maxBytes: 10,
    heartbeatMs: 10_000,
    heartbeat: () => "hb",
    end: signalCallEnd(ac.signal),
  });
  const it = q[Symbol.asyncIterator]();
  q.push("m1", { bytes: 4, room: "r", offset: 7n });
  await it.next();
  q.push("m2", { bytes: 6, room: "r", offset: 8n });
  assert.equal(q.push("m3", { bytes: 6, room: "r", offset: 9n }), false);
  await assert.rejects(it.next(), (err: ConnectError) => {
    assert.equal(err.code, Code.ResourceExhausted);
    assert.match(err.rawMessage, /^slow consumer: .*r=7/);
    return true;
  });
});

test("the event queue ends a waiting consumer at once when the signal aborts", async () => {
  const ac = new AbortController();
  const q = createEventQueue<string>({
    maxBytes: 10,
    heartbeatMs: 10_000,
    heartbeat: () => "hb",
    end: signalCallEnd(ac.signal),
  });
  const it = q[Symbol.asyncIterator]();
  const pending = it.next();
  ac.abort();
  await assert.rejects(pending, (err: ConnectError) => err.code === Code.Canceled);
});

test("the event queue ends on a call-end hook without a signal, and ignores it once over", async () => {
  // The fast path's CallEnd: an abort state and a hook, no AbortSignal.
  const ends: ((reason: unknown) => void)[] = [];
  const state = { aborted: false, reason: undefined as unknown, throwIfAborted() {} };
  const end = {
    state,
    onEnd: (fn: (reason: unknown) => void) => {
      ends.push(fn);
    },
  };
  const make = () =>
    createEventQueue<string>({ maxBytes: 10, heartbeatMs: 10_000, heartbeat: () => "hb", end });
  const waiting = make();
  const finished = make();
  assert.equal(ends.length, 2);
  finished.push("a", { bytes: 1 });
  finished.end();
  const fin = finished[Symbol.asyncIterator]();
  assert.deepEqual(await fin.next(), { done: false, value: "a" });
  assert.deepEqual(await fin.next(), { done: true, value: undefined });
  const pending = waiting[Symbol.asyncIterator]().next();
  const reason = new ConnectError("the operation timed out", Code.DeadlineExceeded);
  state.aborted = true;
  state.reason = reason;
  for (const fn of ends) fn(reason);
  await assert.rejects(pending, (err: ConnectError) => err === reason);
  // The queue that had ended stays ended normally.
  assert.deepEqual(await fin.next(), { done: true, value: undefined });
});
