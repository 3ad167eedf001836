/**
 * JetStream backend as a cluster of nodes: several backend instances (and
 * one child process) sharing a prefix on the test NATS (see `testNats` in
 * test/helpers/nats.ts). Fails, never skips, without NATS.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { ada, bob, msg, readAll, testBytes } from "../src/backend/contract/helpers.js";
import {
  createJetStreamBackend,
  deleteJetStreamData,
  type JetStreamBackend,
  type JetStreamBackendOptions,
} from "../src/backend/jetstream/index.js";
import type { PresenceChange, StoredMessage } from "../src/backend/types.js";
import { type TestNats, testNats } from "./helpers/nats.js";

let nats: TestNats | undefined;
let servers = "";
before(async () => {
  nats = await testNats();
  servers = nats.url;
});
const run = `sbn_${process.pid}_${Date.now().toString(36)}`;
const prefixes: string[] = [];
const backends: JetStreamBackend[] = [];

function newPrefix(): string {
  const prefix = `${run}_${prefixes.length}`;
  prefixes.push(prefix);
  return prefix;
}

async function node(
  prefix: string,
  extra: Partial<JetStreamBackendOptions> = {},
): Promise<JetStreamBackend> {
  const b = await createJetStreamBackend({ servers, prefix, ...extra });
  backends.push(b);
  return b;
}

/** Polls `check` until it returns true (bounded). */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

after(async () => {
  try {
    await Promise.all(backends.map((b) => b.close()));
    if (servers) for (const prefix of prefixes) await deleteJetStreamData({ servers, prefix });
  } finally {
    await nats?.stop();
  }
});

describe("jetstream backend nodes", () => {
  it("a message appended on node A reaches subscribers on node B once, in order", async () => {
    const prefix = newPrefix();
    const a = await node(prefix);
    const b = await node(prefix);
    const onB: StoredMessage[] = [];
    const onA: StoredMessage[] = [];
    const subB1 = await b.fanout.subscribe("lobby", (m) => onB.push(m));
    const subB2 = await b.fanout.subscribe("lobby", (m) => onB.push(m));
    const subA = await a.fanout.subscribe("lobby", (m) => onA.push(m));
    const sent: StoredMessage[] = [];
    for (let i = 0; i < 20; i++) {
      const via = i % 2 ? a : b;
      sent.push(
        (await via.log.append(msg("lobby", `m${i}`, { sender: i % 3 ? ada : bob }))).message,
      );
    }
    await waitUntil(() => onB.length >= 40 && onA.length >= 20);
    await new Promise((r) => setTimeout(r, 100));
    const ids = sent.map((m) => m.id);
    assert.deepEqual(
      onA.map((m) => m.id),
      ids,
    );
    // Two subscribers on B: each message twice, once per subscriber, in order.
    assert.deepEqual(
      onB.filter((_, i) => i % 2 === 0).map((m) => m.id),
      ids,
    );
    assert.deepEqual(onB[0], sent[0]);
    assert.equal(a.fanout.activeSubscriptions, 1);
    assert.equal(b.fanout.activeSubscriptions, 2);
    subB1.close();
    subB2.close();
    subA.close();
    assert.equal(b.fanout.activeSubscriptions, 0);
  });

  it("each node consumes an active room with one consumer, deleted when its last subscriber leaves", async () => {
    const prefix = newPrefix();
    const a = await node(prefix);
    const nc = await connect({ servers });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = `${prefix.toUpperCase()}_MESSAGES`;
      const consumers = async () => (await jsm.streams.info(stream)).state.consumer_count;
      const subs = await Promise.all([1, 2, 3].map(() => a.fanout.subscribe("busy", () => {})));
      assert.equal(await consumers(), 1);
      for (const s of subs) s.close();
      await waitUntil(async () => (await consumers()) === 0);
    } finally {
      await nc.close();
    }
  });

  it("an idempotent retry through node B of a send stored through node A stores once, also past the dedupe window", async () => {
    const prefix = newPrefix();
    const a = await node(prefix, { dedupeWindowMs: 300 });
    const b = await node(prefix, { dedupeWindowMs: 300 });
    const first = await a.log.append(msg("r", "once", { clientMessageId: "k1" }));
    const retry = await b.log.append(msg("r", "once", { clientMessageId: "k1" }));
    assert.equal(retry.duplicate, true);
    assert.deepEqual(retry.message, first.message);
    await new Promise((r) => setTimeout(r, 600));
    const late = await b.log.append(msg("r", "once", { clientMessageId: "k1" }));
    assert.equal(late.duplicate, true);
    assert.deepEqual(late.message, first.message);
    const page = await a.log.read("r", { direction: "forward", offset: 0n, limit: 10 });
    assert.equal(page.messages.length, 1);
  });

  it("rooms whose names differ only in . : @ characters are kept apart", async () => {
    const a = await node(newPrefix());
    const rooms = ["a.b", "a:b", "a@b", "a-b", "a", "a.b.c", "A.B"];
    for (const room of rooms) await a.log.append(msg(room, room));
    for (const room of rooms) {
      const page = await a.log.read(room, { direction: "forward", offset: 0n, limit: 10 });
      assert.deepEqual(
        page.messages.map((m) => [m.room, m.text]),
        [[room, room]],
      );
    }
  });

  it("backward pages find their start among interleaved rooms (sparse offsets)", async () => {
    const a = await node(newPrefix());
    const mine: StoredMessage[] = [];
    for (let i = 0; i < 30; i++) {
      for (let j = 0; j < 7; j++) await a.log.append(msg(`noise-${j}`, "x"));
      mine.push((await a.log.append(msg("sparse", `m${i}`))).message);
    }
    const seen: StoredMessage[] = [];
    let anchor = 0n;
    for (;;) {
      const page = await a.log.read("sparse", { direction: "backward", offset: anchor, limit: 4 });
      seen.unshift(...page.messages);
      if (!page.hasMore) break;
      anchor = page.messages[0]!.offset;
    }
    assert.deepEqual(
      seen.map((m) => m.id),
      mine.map((m) => m.id),
    );
  });

  it("a per-room retention limit drops old messages and reports trimmedThrough so a stale reader is not recovered", async () => {
    const a = await node(newPrefix(), { maxMessagesPerRoom: 3 });
    const all: StoredMessage[] = [];
    for (let i = 0; i < 6; i++) all.push((await a.log.append(msg("capped", `m${i}`))).message);
    await a.log.append(msg("other", "x"));
    const info = await a.log.info("capped");
    assert.equal(info.headOffset, all[5]!.offset);
    assert.equal(info.trimmedThrough, all[3]!.offset - 1n);
    assert.ok(all[0]!.offset < info.trimmedThrough, "a reader at the first offset lost messages");
    const page = await a.log.read("capped", { direction: "forward", offset: 0n, limit: 10 });
    assert.deepEqual(
      page.messages.map((m) => m.text),
      ["m3", "m4", "m5"],
    );
    assert.equal((await a.log.info("other")).trimmedThrough, 0n);
  });

  it("messages past the max age are dropped and trimmedThrough covers them", async () => {
    const a = await node(newPrefix(), { maxAgeMs: 1000, dedupeWindowMs: 500 });
    const gone = (await a.log.append(msg("aging", "old"))).message;
    await waitUntil(async () => (await a.log.info("aging")).headOffset === 0n, 5000);
    const info = await a.log.info("aging");
    assert.ok(info.trimmedThrough >= gone.offset, "the expired offset is reported as trimmed");
    const fresh = (await a.log.append(msg("aging", "new"))).message;
    const page = await a.log.read("aging", { direction: "forward", offset: 0n, limit: 10 });
    assert.deepEqual(
      page.messages.map((m) => m.id),
      [fresh.id],
    );
  });

  it("an aborted upload leaves no object chunks behind and a read from an offset skips whole chunks", async () => {
    const prefix = newPrefix();
    const a = await node(prefix);
    const b = await node(prefix);
    const w = await a.blobs.create({ name: "x", contentType: "", room: "", uploader: ada });
    for (let i = 0; i < 5; i++) await w.write(testBytes(100_000));
    await w.abort();
    const nc = await connect({ servers });
    try {
      const jsm = await jetstreamManager(nc);
      const state = (await jsm.streams.info(`OBJ_${prefix}_files`)).state;
      assert.equal(state.messages, 0);
    } finally {
      await nc.close();
    }
    const bytes = testBytes(1_000_000);
    const up = await a.blobs.create({ name: "big", contentType: "x/y", room: "r", uploader: ada });
    for (let i = 0; i < bytes.length; i += 70_000) await up.write(bytes.subarray(i, i + 70_000));
    const file = await up.commit();
    assert.deepEqual(await b.blobs.stat(file.id), file);
    const offset = 9 * 65_536 + 1234;
    assert.deepEqual(await readAll(b, file.id, offset), Buffer.from(bytes.subarray(offset)));
  });

  it("presence is cluster-wide, and a killed node's users disappear within the TTL", async () => {
    const prefix = newPrefix();
    const ttl = 1500;
    const a = await node(prefix, { presenceTtlMs: ttl });
    const b = await node(prefix, { presenceTtlMs: ttl });
    const changes: PresenceChange[] = [];
    const watch = await a.presence.watch("hall", (c) => changes.push(c));
    const hb = await b.presence.join("hall", bob);
    const ha = await a.presence.join("hall", ada);
    await waitUntil(() => changes.length >= 2);
    assert.deepEqual(
      (await a.presence.list("hall")).map((u) => u.id),
      ["ada", "bob"],
    );
    // The same user on two nodes counts once; leaving one node keeps them present.
    const hb2 = await a.presence.join("hall", bob);
    await hb.leave();
    assert.deepEqual(
      (await b.presence.list("hall")).map((u) => u.id),
      ["ada", "bob"],
    );
    await hb2.leave();
    await waitUntil(() => changes.length >= 3);

    // A node in another process joins carol, then is killed with SIGKILL.
    const entry = pathToFileURL(
      new URL("../src/backend/jetstream/index.ts", import.meta.url).pathname,
    ).href;
    const code = `
      const { createJetStreamBackend } = await import(${JSON.stringify(entry)});
      const b = await createJetStreamBackend({ servers: ${JSON.stringify(servers)}, prefix: ${JSON.stringify(prefix)}, presenceTtlMs: ${ttl} });
      await b.presence.join("hall", { id: "carol", name: "Carol" });
      process.stdout.write("joined\\n");
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
      await waitUntil(() => out.includes("joined") || child.exitCode !== null, 20_000);
      assert.ok(out.includes("joined"), "the child node joined");
      await waitUntil(() => changes.some((c) => c.user.id === "carol"));
      // Alive and refreshing: still present after more than one TTL.
      await new Promise((r) => setTimeout(r, ttl + 300));
      assert.ok((await a.presence.list("hall")).some((u) => u.id === "carol"));
      child.kill("SIGKILL");
      await once(child, "exit");
      const killedAt = Date.now();
      await waitUntil(
        () => changes.some((c) => c.user.id === "carol" && c.kind === "leave"),
        3 * ttl,
      );
      assert.ok(Date.now() - killedAt <= 2 * ttl + 500, "left within about the TTL");
      await waitUntil(
        async () => !(await b.presence.list("hall")).some((u) => u.id === "carol"),
        3 * ttl,
      );
    } finally {
      clearTimeout(killer);
      child.kill("SIGKILL");
    }
    watch.close();
    await ha.leave();
    assert.deepEqual(
      changes.map((c) => `${c.kind}:${c.user.id}`),
      ["join:bob", "join:ada", "leave:bob", "join:carol", "leave:carol"],
    );
  });
});
