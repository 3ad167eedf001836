/**
 * Switchboard on a 3-server NATS cluster with R3 streams: losing one NATS
 * server interrupts neither sends nor subscriptions, and loses nothing —
 * even when it is the server that hosts the subscription's consumer.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSwitchboardClient } from "../src/client/index.js";
import { startCluster, type TestCluster } from "./helpers/cluster.js";
import { type NatsCluster, type NatsServerProcess, startNatsCluster } from "./helpers/nats.js";
import { followRoom } from "./helpers/room-follower.js";

interface Jsz {
  account_details?: {
    stream_detail?: { name: string; consumer_detail?: { name: string }[] }[];
  }[];
}

/** The NATS server that hosts a consumer of `stream` (from its /jsz monitoring page). */
async function consumerHost(
  servers: readonly NatsServerProcess[],
  stream: string,
): Promise<NatsServerProcess | undefined> {
  for (const server of servers) {
    const res = await fetch(
      `http://127.0.0.1:${server.monitorPort}/jsz?accounts=true&streams=true&consumers=true`,
    );
    const jsz = (await res.json()) as Jsz;
    const streams = jsz.account_details?.flatMap((a) => a.stream_detail ?? []) ?? [];
    if (streams.some((s) => s.name === stream && (s.consumer_detail?.length ?? 0) > 0)) {
      return server;
    }
  }
  return undefined;
}

describe("cluster: three NATS servers, replicas 3", { timeout: 240_000 }, () => {
  let nats: NatsCluster;
  let cluster: TestCluster;
  before(async () => {
    nats = await startNatsCluster(3);
    cluster = await startCluster({ natsUrls: nats.urls, replicas: 3 });
  });
  after(async () => {
    await cluster?.close();
    await nats?.stop();
  });

  it("keeps sending and delivering when the NATS server hosting the subscription's consumer is killed", async () => {
    const token = await cluster.token({ subject: "ada", rooms: ["*"] });
    const client = createSwitchboardClient({ baseUrl: cluster.url, token });
    const room = "replicated";
    const follower = followRoom(client, room, { from: { kind: "beginning" } });
    try {
      await follower.ready;
      const acked: { offset: bigint; text: string }[] = [];
      const send = async (text: string) => {
        const res = await client.send(room, text, {
          maxAttempts: 100,
          backoff: { initialMs: 100, maxMs: 1000 },
          timeoutMs: 10_000,
        });
        acked.push({ offset: res.message!.offset, text });
      };
      for (let i = 0; i < 10; i++) await send(`before ${i}`);
      await follower.waitFor((m) => m.length >= 10, 30_000, "the first 10 messages");

      // The worst server to lose: the one the subscribing node consumes the
      // room from (the nodes create a consumer per room they serve).
      const host = await consumerHost(nats.servers, `${cluster.prefix.toUpperCase()}_MESSAGES`);
      assert.ok(host, "a NATS server hosts the room's consumer");
      await host.kill("SIGKILL");
      for (let i = 0; i < 10; i++) await send(`after ${i}`);

      const wanted = new Set(acked.map((a) => a.offset));
      await follower.waitFor(
        (m) => m.filter((x) => wanted.has(x.offset)).length >= wanted.size,
        60_000,
        "every acknowledged message",
      );
      assert.deepEqual(
        follower.messages.map((m) => m.text),
        acked.map((a) => a.text),
      );
      // A new subscriber, through any node, replays the whole history.
      const late = followRoom(client, room, { from: { kind: "beginning" } });
      try {
        await late.waitFor((m) => m.length >= 20, 30_000, "the replayed history");
        assert.deepEqual(
          late.messages.map((m) => m.offset),
          acked.map((a) => a.offset),
        );
      } finally {
        await late.stop();
      }
    } finally {
      await follower.stop();
    }
  });
});
