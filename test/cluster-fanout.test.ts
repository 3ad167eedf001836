/**
 * Three Switchboard nodes on one NATS JetStream: what one node stores, every
 * node serves — live messages, idempotency keys and files.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createSwitchboardClient, type SwitchboardClient } from "../src/client/index.js";
import { startCluster, type TestCluster } from "./helpers/cluster.js";
import { type NatsServerProcess, startNatsServer } from "./helpers/nats.js";
import { followRoom } from "./helpers/room-follower.js";

describe("cluster: one JetStream, three nodes", { timeout: 180_000 }, () => {
  let nats: NatsServerProcess;
  let cluster: TestCluster;
  let dir: string;
  let clients: SwitchboardClient[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchboard-cluster-fanout-"));
    nats = await startNatsServer();
    cluster = await startCluster({ natsUrls: [nats.url] });
    const token = await cluster.token({ subject: "ada", name: "Ada", rooms: ["*"] });
    clients = cluster.nodes.map((n) =>
      createSwitchboardClient({ baseUrl: n.url, token, defaultTimeoutMs: 15_000 }),
    );
  });
  after(async () => {
    await cluster?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("prints the cluster mode at start-up", () => {
    for (const node of cluster.nodes) {
      assert.match(node.log(), new RegExp(`backend: NATS JetStream at ${nats.url}`));
    }
  });

  it("delivers a message sent through node A to subscribers on nodes B and C, in order, once", async () => {
    const [a, b, c] = clients as [SwitchboardClient, SwitchboardClient, SwitchboardClient];
    const room = "fanout";
    const onB = followRoom(b, room, { from: { kind: "latest" } });
    const onC = followRoom(c, room, { from: { kind: "latest" } });
    try {
      await Promise.all([onB.ready, onC.ready]);
      const sent: bigint[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await a.rpc.send({ room, text: `m${i}` });
        sent.push(res.message!.offset);
      }
      // A last message after the 20: once it arrived, anything duplicated or
      // reordered before it would have arrived too.
      await a.rpc.send({ room, text: "end" });
      const sawEnd = (m: readonly { text: string }[]) => m.some((x) => x.text === "end");
      await onB.waitFor(sawEnd, 30_000, "the last message on node B");
      await onC.waitFor(sawEnd, 30_000, "the last message on node C");
      for (const follower of [onB, onC]) {
        const got = follower.messages.filter((m) => m.text !== "end");
        assert.deepEqual(
          got.map((m) => m.text),
          sent.map((_, i) => `m${i}`),
        );
        assert.deepEqual(
          got.map((m) => m.offset),
          sent,
        );
        assert.equal(follower.messages.at(-1)?.text, "end");
      }
    } finally {
      await onB.stop();
      await onC.stop();
    }
  });

  it("stores a Send retried against a different node once (same client_message_id)", async () => {
    const [a, b, c] = clients as [SwitchboardClient, SwitchboardClient, SwitchboardClient];
    const room = "idempotent";
    const clientMessageId = `retry-${randomBytes(4).toString("hex")}`;
    const first = await a.rpc.send({ room, text: "only once", clientMessageId });
    assert.equal(first.duplicate, false);
    const again = await b.rpc.send({ room, text: "only once", clientMessageId });
    assert.equal(again.duplicate, true);
    assert.equal(again.message?.id, first.message?.id);
    assert.equal(again.message?.offset, first.message?.offset);
    const third = await c.send(room, "only once", { clientMessageId });
    assert.equal(third.duplicate, true);
    const page = await c.history(room, { limit: 50 });
    assert.deepEqual(
      page.messages.map((m) => m.text),
      ["only once"],
    );
  });

  it("downloads through node C a file uploaded through node A, with the same sha256", async () => {
    const [a, , c] = clients as [SwitchboardClient, SwitchboardClient, SwitchboardClient];
    const bytes = randomBytes(700 * 1024 + 13);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const source = join(dir, "source.bin");
    const copy = join(dir, "copy.bin");
    await writeFile(source, bytes);
    const file = await a.uploadFile(source, { room: "files" });
    assert.equal(file.sha256, sha256);
    assert.equal(Number(file.size), bytes.length);
    const downloaded = await c.downloadFile(file.id, copy);
    assert.equal(downloaded.sha256, sha256);
    assert.equal(
      createHash("sha256")
        .update(await readFile(copy))
        .digest("hex"),
      sha256,
    );
  });
});
