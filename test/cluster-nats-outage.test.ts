/**
 * The NATS server goes away under a running cluster: calls fail fast with
 * `unavailable` (never hang), /healthz says 503, and once NATS is back the
 * nodes reconnect and no acknowledged message is lost.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createSwitchboardClient } from "../src/client/index.js";
import { startCluster, type TestCluster } from "./helpers/cluster.js";
import { type NatsServerProcess, startNatsServer } from "./helpers/nats.js";
import { followRoom } from "./helpers/room-follower.js";

/** Runs `call` and returns its error code and how long it took. */
async function failure(call: () => Promise<unknown>): Promise<{ code: Code; ms: number }> {
  const started = Date.now();
  try {
    await call();
  } catch (err) {
    return { code: ConnectError.from(err).code, ms: Date.now() - started };
  }
  throw new Error("the call succeeded while NATS was down");
}

async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing: ${err}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe("cluster: NATS outages", { timeout: 240_000 }, () => {
  let nats: NatsServerProcess;
  let cluster: TestCluster;
  let token: string;
  before(async () => {
    nats = await startNatsServer();
    cluster = await startCluster({ natsUrls: [nats.url] });
    token = await cluster.token({ subject: "ada", rooms: ["*"] });
  });
  after(async () => {
    await cluster?.close();
    await nats?.stop();
  });

  it("loses no acknowledged message when nats-server restarts mid-traffic", async () => {
    const client = createSwitchboardClient({ baseUrl: cluster.url, token });
    const room = "nats-restart";
    const follower = followRoom(client, room, { from: { kind: "beginning" } });
    try {
      await follower.ready;
      const acked: { offset: bigint; text: string }[] = [];
      const total = 40;
      const sender = (async () => {
        for (let i = 0; i < total; i++) {
          const text = `msg ${i}`;
          const res = await client.send(room, text, {
            maxAttempts: 200,
            backoff: { initialMs: 100, maxMs: 500 },
            timeoutMs: 10_000,
          });
          acked.push({ offset: res.message!.offset, text });
          await new Promise((r) => setTimeout(r, 30));
        }
      })();
      await follower.waitFor((m) => m.length >= 10, 30_000, "10 live messages");
      await nats.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 1000));
      await nats.restart();
      await sender;

      const wanted = new Set(acked.map((a) => a.offset));
      await follower.waitFor(
        (m) => m.filter((x) => wanted.has(x.offset)).length >= wanted.size,
        60_000,
        "every acknowledged message",
      );
      const offsets = follower.messages.map((m) => m.offset);
      assert.equal(new Set(offsets).size, offsets.length, "no offset twice");
      const texts = follower.messages.map((m) => m.text);
      assert.equal(new Set(texts).size, texts.length, "no message stored twice");
      for (const a of acked) {
        assert.ok(
          follower.messages.some((m) => m.offset === a.offset && m.text === a.text),
          `${a.text} at ${a.offset} arrived`,
        );
      }
      // And the store agrees: a fresh reader sees them all.
      const page = await client.history(room, { limit: 100 });
      assert.deepEqual(
        page.messages.map((m) => m.text),
        acked.map((a) => a.text),
      );
    } finally {
      await follower.stop();
    }
  });

  it("fails calls with unavailable quickly while NATS is down, and serves them again after", async () => {
    const node = cluster.nodes[0]!;
    const direct = createSwitchboardClient({ baseUrl: node.url, token });
    await direct.rpc.send({ room: "outage", text: "before" });
    await nats.kill("SIGKILL");
    try {
      const send = await failure(() =>
        direct.rpc.send({ room: "outage", text: "during" }, { timeoutMs: 20_000 }),
      );
      assert.equal(send.code, Code.Unavailable, `Send failed with ${Code[send.code]}`);
      assert.ok(send.ms < 8_000, `Send failed after ${send.ms} ms`);
      const history = await failure(() =>
        direct.rpc.history({ room: "outage", limit: 10 }, { timeoutMs: 20_000 }),
      );
      assert.equal(history.code, Code.Unavailable, `History failed with ${Code[history.code]}`);
      assert.ok(history.ms < 8_000, `History failed after ${history.ms} ms`);
      const subscribe = await failure(async () => {
        for await (const _ of direct.rpc.subscribe(
          { rooms: [{ room: "outage" }] },
          { timeoutMs: 20_000 },
        )) {
          // a stream may open; it must not stay open while nothing can be read
        }
      });
      assert.equal(
        subscribe.code,
        Code.Unavailable,
        `Subscribe failed with ${Code[subscribe.code]}`,
      );
      assert.ok(subscribe.ms < 8_000, `Subscribe failed after ${subscribe.ms} ms`);

      await eventually(
        "/healthz reports 503",
        async () => {
          const res = await fetch(`${node.url}/healthz`);
          await res.text();
          assert.equal(res.status, 503);
        },
        15_000,
      );
      // Through the balancer too: every node is out of rotation, so the
      // balancer answers at once.
      const balanced = createSwitchboardClient({ baseUrl: cluster.url, token });
      await cluster.waitForBalancer([], 15_000);
      const viaBalancer = await failure(() =>
        balanced.rpc.send({ room: "outage", text: "during" }, { timeoutMs: 20_000 }),
      );
      assert.equal(viaBalancer.code, Code.Unavailable);
      assert.ok(viaBalancer.ms < 8_000, `failed after ${viaBalancer.ms} ms`);
    } finally {
      await nats.restart();
    }
    const back = await eventually(
      "Send after NATS is back",
      () => direct.rpc.send({ room: "outage", text: "after" }, { timeoutMs: 10_000 }),
      60_000,
    );
    assert.equal(back.message?.text, "after");
    const page = await direct.history("outage", { limit: 10 });
    assert.deepEqual(
      page.messages.map((m) => m.text),
      ["before", "after"],
    );
    await cluster.waitForBalancer(["node1", "node2", "node3"], 30_000);
  });
});
