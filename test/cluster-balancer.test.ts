/**
 * HAProxy from deploy/haproxy.cfg in front of three nodes: one port for
 * HTTP/1.1 and h2c clients, every gRPC call balanced on its own, dead nodes
 * taken out of rotation by the /healthz check.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createSwitchboardClient } from "../src/client/index.js";
import { startCluster, type TestCluster } from "./helpers/cluster.js";
import { type NatsServerProcess, startNatsServer } from "./helpers/nats.js";

describe("cluster: HAProxy in front of the nodes", { timeout: 180_000 }, () => {
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

  it("serves gRPC over h2c and Connect and gRPC-Web over HTTP/1.1 on the one balancer port", async () => {
    const grpc = createSwitchboardClient({ baseUrl: cluster.url, token, protocol: "grpc" });
    const connect = createSwitchboardClient({
      baseUrl: cluster.url,
      token,
      protocol: "connect",
      httpVersion: "1.1",
    });
    const grpcWeb = createSwitchboardClient({
      baseUrl: cluster.url,
      token,
      protocol: "grpc-web",
      httpVersion: "1.1",
    });
    const room = "protocols";
    await grpc.rpc.send({ room, text: "over h2c" });
    await connect.rpc.send({ room, text: "over connect" });
    await grpcWeb.rpc.send({ room, text: "over grpc-web" });
    const page = await connect.history(room, { limit: 10 });
    assert.deepEqual(
      page.messages.map((m) => m.text),
      ["over h2c", "over connect", "over grpc-web"],
    );
    const health = await fetch(`${cluster.url}/healthz`);
    assert.equal(health.status, 200);
    await health.text();
  });

  it("carries the browser tunnel (WebSocket upgrade) through the balancer: Chat and Upload work, and GET / serves the app", async () => {
    const sb = createSwitchboardClient({ baseUrl: cluster.url, token, transport: "tunnel" });
    const chat = sb.chat();
    try {
      await chat.join("tunnel-through-lb");
      const ack = await chat.send("tunnel-through-lb", "hello over the tunnel");
      assert.ok((ack.message?.offset ?? 0n) > 0n);
    } finally {
      chat.close();
    }
    const bytes = new TextEncoder().encode("z".repeat(300_000));
    const file = await sb.upload(
      { name: "lb.txt", size: bytes.length },
      (async function* () {
        yield bytes;
      })(),
    );
    assert.equal(file.size, BigInt(bytes.length));
    const page = await fetch(`${cluster.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    await page.text();
  });

  it("balances every gRPC call of one HTTP/2 connection on its own over every node", async () => {
    const client = createSwitchboardClient({ baseUrl: cluster.url, token, protocol: "grpc" });
    const before = new Map((await cluster.stats()).map((s) => [s.name, s.total]));
    for (let i = 0; i < 30; i++) await client.rpc.send({ room: "spread", text: `call ${i}` });
    const after = await cluster.stats();
    const served = after.map((s) => [s.name, s.total - (before.get(s.name) ?? 0)] as const);
    assert.equal(served.length, 3);
    for (const [name, calls] of served) {
      assert.ok(calls >= 5, `${name} served ${calls} of 30 calls: ${JSON.stringify(served)}`);
    }
  });

  it("takes a killed node out of rotation, keeps every call succeeding, and takes it back", async () => {
    const client = createSwitchboardClient({ baseUrl: cluster.url, token, protocol: "grpc" });
    const victim = cluster.nodes[2]!;
    await victim.kill("SIGKILL");
    const offsets: bigint[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await client.send("rotation", `while ${victim.name} is dead ${i}`, {
        maxAttempts: 10,
        backoff: { initialMs: 50, maxMs: 500 },
      });
      offsets.push(res.message!.offset);
    }
    assert.equal(new Set(offsets).size, 20);
    await cluster.waitForBalancer(["node1", "node2"], 20_000);
    await victim.start();
    await cluster.waitForBalancer(["node1", "node2", "node3"], 30_000);
    const page = await client.history("rotation", { limit: 50 });
    assert.equal(page.messages.length, 20);
  });
});
