/**
 * The JetStream backend through NATS outages, on private nats-server
 * processes (test/helpers/nats.ts): a single server killed and restarted in
 * the middle of appends, and a 3-node cluster (R3) losing the node a backend
 * is connected to. Fails, never skips, without the nats-server binary.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { msg } from "../src/backend/contract/helpers.js";
import { BackendUnavailableError } from "../src/backend/errors.js";
import { createJetStreamBackend, type JetStreamBackend } from "../src/backend/jetstream/index.js";
import { jetStreamNames } from "../src/backend/jetstream/options.js";
import type { StoredMessage } from "../src/backend/types.js";
import {
  type NatsCluster,
  type NatsServerProcess,
  startNatsCluster,
  startNatsServer,
} from "./helpers/nats.js";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  // Each step bounded, so the servers are stopped even if a close hangs.
  for (const fn of cleanups.reverse()) {
    await Promise.race([fn().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
  }
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function readAllMessages(b: JetStreamBackend, room: string): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  for (let after = 0n; ; ) {
    const page = await b.log.read(room, { direction: "forward", offset: after, limit: 100 });
    out.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return out;
    after = page.messages.at(-1)!.offset;
  }
}

interface Writer {
  acked: StoredMessage[];
  failures: { error: unknown; ms: number }[];
  stop(): Promise<void>;
}

/** Appends to `room` in a loop until stopped, recording what was acknowledged and how failures went. */
function startWriter(b: JetStreamBackend, room: string): Writer {
  const acked: StoredMessage[] = [];
  const failures: Writer["failures"] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const t0 = Date.now();
      try {
        acked.push((await b.log.append(msg(room, `m${i}`, { clientMessageId: `c${i}` }))).message);
      } catch (error) {
        failures.push({ error, ms: Date.now() - t0 });
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    acked,
    failures,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Index of the server on which the backend's NATS connection (named switchboard-<nodeId[0..8]>) is. */
async function connectedServer(cluster: NatsCluster, b: JetStreamBackend): Promise<number> {
  const name = `switchboard-${b.nodeId.slice(0, 8)}`;
  for (const [i, s] of cluster.servers.entries()) {
    if (!s.running) continue;
    const res = await fetch(`http://127.0.0.1:${s.monitorPort}/connz?limit=1024`);
    const connz = (await res.json()) as { connections?: { name?: string }[] };
    if ((connz.connections ?? []).some((c) => c.name === name)) return i;
  }
  return -1;
}

/** Indexes of the servers hosting a consumer of `stream` filtered on `subject`. */
async function consumerHosts(cluster: NatsCluster, stream: string, subject: string) {
  const hosts: number[] = [];
  for (const [i, s] of cluster.servers.entries()) {
    if (!s.running) continue;
    const url = `http://127.0.0.1:${s.monitorPort}/jsz?accounts=true&streams=true&consumers=true&config=true`;
    const jsz = (await (await fetch(url)).json()) as {
      account_details?: {
        stream_detail?: {
          name: string;
          consumer_detail?: { config?: unknown; cluster?: { leader?: string } }[];
        }[];
      }[];
    };
    for (const account of jsz.account_details ?? []) {
      for (const st of account.stream_detail ?? []) {
        if (st.name !== stream) continue;
        for (const c of st.consumer_detail ?? []) {
          if (JSON.stringify(c.config ?? {}).includes(`"${subject}"`)) hosts.push(i);
        }
      }
    }
  }
  return hosts;
}

describe("jetstream backend outages", () => {
  it("a nats-server killed and restarted mid-appends: fast failures, no acknowledged message lost, fan-out resumes", async () => {
    const nats: NatsServerProcess = await startNatsServer();
    cleanups.push(() => nats.stop());
    const opts = { servers: nats.url, prefix: "outage", requestTimeoutMs: 2000 };
    const a = await createJetStreamBackend(opts);
    cleanups.push(() => a.close());
    const b = await createJetStreamBackend(opts);
    cleanups.push(() => b.close());
    const live: StoredMessage[] = [];
    const ends: Error[] = [];
    await b.fanout.subscribe("room", (m) => live.push(m), { onEnd: (e) => ends.push(e) });

    const writer = startWriter(a, "room");
    await waitUntil(() => writer.acked.length >= 20);
    await nats.kill("SIGKILL");
    await waitUntil(() => !a.health().ready);
    assert.match(a.health().reason, /disconnected/);
    const failuresBefore = writer.failures.length;
    await waitUntil(() => writer.failures.length >= failuresBefore + 5);
    await nats.restart();
    await waitUntil(() => a.health().ready && b.health().ready);
    const ackedAtRestart = writer.acked.length;
    await waitUntil(() => writer.acked.length >= ackedAtRestart + 20);
    await writer.stop();

    assert.ok(writer.failures.length >= 5);
    for (const f of writer.failures) {
      assert.ok(f.error instanceof BackendUnavailableError, String(f.error));
      assert.ok(f.ms < 3500, `an append failed after ${f.ms} ms`);
    }
    const stored = await readAllMessages(a, "room");
    const storedIds = new Set(stored.map((m) => m.id));
    for (const m of writer.acked) assert.ok(storedIds.has(m.id), `acknowledged ${m.text} was lost`);
    // Retried sends were not duplicated: one message per clientMessageId.
    assert.equal(new Set(stored.map((m) => m.clientMessageId)).size, stored.length);
    await waitUntil(() => live.length >= stored.length || ends.length > 0);
    assert.deepEqual(ends, []);
    assert.deepEqual(
      live.map((m) => m.id),
      stored.map((m) => m.id),
      "the subscriber on the other node got every stored message once, in order",
    );
  });

  it("in an R3 cluster, killing the server a node is connected to loses no acknowledged message", async () => {
    const cluster: NatsCluster = await startNatsCluster(3);
    cleanups.push(() => cluster.stop());
    const base = { prefix: "r3", replicas: 3, requestTimeoutMs: 3000 };
    const a = await createJetStreamBackend({ ...base, servers: [cluster.urls[0]!] });
    cleanups.push(() => a.close());
    // B knows the other servers only, so it stays connected throughout.
    const b = await createJetStreamBackend({
      ...base,
      servers: [cluster.urls[1]!, cluster.urls[2]!],
    });
    cleanups.push(() => b.close());
    const live: StoredMessage[] = [];
    await b.fanout.subscribe("room", (m) => live.push(m));
    const writer = startWriter(a, "room");
    await waitUntil(() => writer.acked.length >= 20);
    await cluster.servers[0]!.kill("SIGKILL");
    // A learned the other servers from the cluster and reconnects to one of them.
    await waitUntil(() => writer.acked.length >= 60, 30_000);
    await writer.stop();
    // Leader elections after the kill may make a first read time out: retry (bounded).
    let stored: StoredMessage[] = [];
    await waitUntil(async () => {
      stored = await readAllMessages(b, "room").catch(() => []);
      return stored.length > 0;
    }, 30_000);
    const storedIds = new Set(stored.map((m) => m.id));
    for (const m of writer.acked) assert.ok(storedIds.has(m.id), `acknowledged ${m.text} was lost`);
    await waitUntil(() => live.length >= stored.length, 30_000);
    assert.deepEqual(
      live.map((m) => m.id),
      stored.map((m) => m.id),
    );
    await cluster.servers[0]!.restart();
  });

  it("in an R3 cluster, losing the server that holds both a node's connection and its room consumer: the subscriber still gets every later message once, in order", async () => {
    const cluster: NatsCluster = await startNatsCluster(3);
    cleanups.push(() => cluster.stop());
    const base = { prefix: "r3c", replicas: 3, requestTimeoutMs: 3000 };
    // Every backend knows every member (and learns them from the cluster anyway).
    const a = await createJetStreamBackend({ ...base, servers: cluster.urls });
    cleanups.push(() => a.close());
    const b = await createJetStreamBackend({ ...base, servers: cluster.urls });
    cleanups.push(() => b.close());
    const server = await connectedServer(cluster, b);
    assert.ok(server >= 0, "found the server B is connected to");

    // Where an ordered consumer lands is the cluster's choice: subscribe to
    // fresh rooms until one's consumer is on B's server (each try ~1 in 3).
    let room = "";
    const live: StoredMessage[] = [];
    const ends: Error[] = [];
    for (let i = 0; i < 30 && room === ""; i++) {
      const candidate = `rm${i}x`;
      const sub = await b.fanout.subscribe(candidate, (m) => live.push(m), {
        onEnd: (e) => ends.push(e),
      });
      let hosts: number[] = [];
      await waitUntil(async () => {
        const names = jetStreamNames("r3c");
        hosts = await consumerHosts(cluster, names.messagesStream, names.roomSubject(candidate));
        return hosts.length > 0;
      });
      if (hosts.length === 1 && hosts[0] === server) room = candidate;
      else sub.close();
    }
    assert.notEqual(room, "", "a room consumer landed on the server B is connected to");

    const before = await a.log.append(msg(room, "before"));
    await waitUntil(() => live.length === 1);
    await cluster.servers[server]!.kill("SIGKILL");
    await waitUntil(async () => {
      const now = await connectedServer(cluster, b);
      return now >= 0 && now !== server && b.health().ready;
    }, 30_000);

    // Append through the other node; retry while leaders are elected (bounded).
    const appended: StoredMessage[] = [before.message];
    for (let i = 0; i < 5; i++) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          appended.push(
            (await a.log.append(msg(room, `after${i}`, { clientMessageId: `a${i}` }))).message,
          );
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
    await waitUntil(() => live.length >= appended.length || ends.length > 0, 30_000);
    assert.deepEqual(ends, []);
    assert.deepEqual(
      live.map((m) => m.text),
      appended.map((m) => m.text),
      "every message once, in order",
    );
  });
});
