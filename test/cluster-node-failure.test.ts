/**
 * A node dies (kill -9) while serving a subscriber through HAProxy: the SDK
 * reconnects through the balancer to another node and resumes from its last
 * offset; every message a concurrent sender got acknowledged arrives exactly
 * once, in order.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSwitchboardClient } from "../src/client/index.js";
import { startCluster, type TestCluster } from "./helpers/cluster.js";
import { type NatsServerProcess, startNatsServer } from "./helpers/nats.js";
import { followRoom } from "./helpers/room-follower.js";

describe("cluster: a node dies under a subscriber", { timeout: 180_000 }, () => {
  let nats: NatsServerProcess;
  let cluster: TestCluster;
  before(async () => {
    nats = await startNatsServer();
    cluster = await startCluster({ natsUrls: [nats.url] });
  });
  after(async () => {
    await cluster?.close();
    await nats?.stop();
  });

  it("resumes the subscription on another node: every acknowledged message arrives exactly once", async () => {
    const token = await cluster.token({ subject: "ada", rooms: ["*"] });
    const subscriberClient = createSwitchboardClient({ baseUrl: cluster.url, token });
    const senderClient = createSwitchboardClient({ baseUrl: cluster.url, token });
    const room = "failover";
    await senderClient.rpc.send({ room, text: "before" });
    const follower = followRoom(subscriberClient, room, { from: { kind: "beginning" } });
    try {
      await follower.ready;
      await follower.waitFor((m) => m.length === 1, 20_000, "the first message");

      // The only request in progress is the subscription: the node with a
      // current session is the one serving it.
      let serving: string | undefined;
      const deadline = Date.now() + 10_000;
      while (serving === undefined && Date.now() < deadline) {
        const busy = (await cluster.stats()).filter((s) => s.current > 0);
        if (busy.length === 1) serving = busy[0]!.name;
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(serving, "the balancer shows which node serves the subscription");
      const victim = cluster.nodes.find((n) => n.name === serving)!;

      const acked: { offset: bigint; text: string }[] = [];
      const total = 60;
      const sender = (async () => {
        for (let i = 0; i < total; i++) {
          const text = `msg ${i}`;
          const res = await senderClient.send(room, text, {
            maxAttempts: 40,
            backoff: { initialMs: 50, maxMs: 500 },
            timeoutMs: 10_000,
          });
          acked.push({ offset: res.message!.offset, text });
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await follower.waitFor((m) => m.length >= 15, 30_000, "15 live messages");
      await victim.kill("SIGKILL");
      await sender;

      const wanted = new Set(acked.map((a) => a.offset));
      await follower.waitFor(
        (m) => m.filter((x) => wanted.has(x.offset)).length >= wanted.size,
        60_000,
        "every acknowledged message",
      );
      assert.ok(follower.reconnects >= 1, "the subscription had to reconnect");
      const received = follower.messages;
      const offsets = received.map((m) => m.offset);
      assert.equal(new Set(offsets).size, offsets.length, "no offset twice");
      assert.deepEqual(
        [...offsets].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
        offsets,
        "in offset order",
      );
      const texts = received.map((m) => m.text);
      assert.equal(new Set(texts).size, texts.length, "no message stored twice by a retry");
      for (const a of acked) {
        assert.equal(
          received.filter((m) => m.offset === a.offset && m.text === a.text).length,
          1,
          `${a.text} at ${a.offset} exactly once`,
        );
      }
      assert.equal(acked.length, total);
    } finally {
      await follower.stop();
    }
  });
});
