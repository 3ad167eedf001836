/**
 * Prometheus metrics: after known calls over real sockets, `/metrics` shows
 * the counters and histogram counts those calls must have produced — RPCs by
 * service, method, protocol and code, auth failures, messages published and
 * delivered, file bytes, active streams, backend latencies, process metrics
 * — on the main port or on `metricsPort`.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createSqliteBackend, schemaVersion } from "../src/backend/sqlite/index.js";
import { Health } from "../src/gen/grpc/health/v1/health_pb.js";
import { createCallTelemetry, createQueueRegistry } from "../src/observability/call-telemetry.js";
import { createBackendObserver } from "../src/observability/instrument-backend.js";
import { createMetrics } from "../src/observability/metrics.js";
import { signalEndHook } from "../src/service/call-end.js";
import { slowConsumerPrefix } from "../src/service/telemetry.js";
import {
  type ChatApi,
  createPushable,
  expectConnectError,
  protocolVariants,
  type TestClient,
  type UploadFrame,
  waitFor,
} from "./helpers/clients.js";
import { has, parsePrometheusText, scrape, value } from "./helpers/prometheus-text.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

const chat = "switchboard.chat.v1.ChatService";
const variant = (name: string) => protocolVariants.find((v) => v.name === name)!;

describe("metrics on the main port after known calls", () => {
  let ts: TestServer;
  const clients: TestClient[] = [];
  let grpc: ChatApi;
  let connect: ChatApi;
  const open = (name: string, token: string | undefined) => {
    const c = variant(name).open(ts.url, token);
    clients.push(c);
    return c.api;
  };

  before(async () => {
    ts = await startTestServer();
    const token = await ts.token({ subject: "ada", rooms: ["*"] });
    grpc = open("grpc/h2c", token);
    connect = open("connect/http1.1", token);
  });
  after(async () => {
    for (const c of clients) c.close();
    await ts.close();
  });

  it("counts RPCs by service, method, protocol and code, with a latency histogram per method", async () => {
    for (let i = 0; i < 3; i++) await grpc.send({ room: "m-rpc", text: `hello ${i}` });
    await connect.history({ room: "m-rpc", limit: 10 });
    const reader = open("grpc/h2c", await ts.token({ subject: "bob", subscribe: ["*"] }));
    const denied = await expectConnectError(reader.send({ room: "m-rpc", text: "no" }));
    assert.equal(denied.code, Code.PermissionDenied);

    const s = await scrape(`${ts.url}/metrics`);
    const send = { service: chat, method: "Send", protocol: "grpc" };
    assert.equal(value(s, "switchboard_rpc_handled_total", { ...send, code: "ok" }), 3);
    assert.equal(
      value(s, "switchboard_rpc_handled_total", { ...send, code: "permission_denied" }),
      1,
    );
    assert.equal(
      value(s, "switchboard_rpc_handled_total", {
        service: chat,
        method: "History",
        protocol: "connect",
        code: "ok",
      }),
      1,
    );
    assert.equal(value(s, "switchboard_rpc_duration_seconds_count", send), 4);
    assert.equal(value(s, "switchboard_rpc_duration_seconds_bucket", { ...send, le: "+Inf" }), 4);
    assert.ok(value(s, "switchboard_rpc_duration_seconds_sum", send) > 0);
    assert.equal(value(s, "switchboard_messages_published_total", { method: "Send" }), 3);
    assert.ok(
      value(s, "switchboard_backend_operation_duration_seconds_count", {
        backend: "memory",
        operation: "append",
      }) >= 3,
    );
  });

  it("counts authentication failures by reason and as unauthenticated calls", async () => {
    const anonymous = open("grpc/h2c", undefined);
    const forged = open("connect/http1.1", "not-a-jwt");
    assert.equal(
      (await expectConnectError(anonymous.send({ room: "m-auth", text: "x" }))).code,
      Code.Unauthenticated,
    );
    assert.equal(
      (await expectConnectError(forged.history({ room: "m-auth" }))).code,
      Code.Unauthenticated,
    );
    const s = await scrape(`${ts.url}/metrics`);
    assert.equal(value(s, "switchboard_auth_failures_total", { reason: "missing" }), 1);
    assert.equal(value(s, "switchboard_auth_failures_total", { reason: "invalid" }), 1);
    assert.equal(
      value(s, "switchboard_rpc_handled_total", {
        method: "Send",
        protocol: "grpc",
        code: "unauthenticated",
      }),
      1,
    );
    assert.equal(
      value(s, "switchboard_rpc_handled_total", {
        method: "History",
        protocol: "connect",
        code: "unauthenticated",
      }),
      1,
    );
  });

  it("counts replayed and live deliveries, the fan-out lag and the open stream", async () => {
    for (let i = 0; i < 3; i++) await grpc.send({ room: "m-sub", text: `old ${i}` });
    const ac = new AbortController();
    const stream = grpc.subscribe(
      { rooms: [{ room: "m-sub", start: { case: "afterOffset", value: 0n } }] },
      { signal: ac.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    const texts: string[] = [];
    while (texts.length < 3) {
      const r = await it.next();
      if (r.value?.event.case === "message") texts.push(r.value.event.value.text);
    }
    const before = await scrape(`${ts.url}/metrics`);
    assert.equal(value(before, "switchboard_active_streams", { method: "Subscribe" }), 1);
    await grpc.send({ room: "m-sub", text: "live" });
    for (;;) {
      const r = await it.next();
      if (r.value?.event.case === "message") break;
    }
    ac.abort();
    await it.next().catch(() => undefined);
    await waitFor("the Subscribe call to be counted", async () => {
      const s = await scrape(`${ts.url}/metrics`);
      return value(s, "switchboard_rpc_handled_total", { method: "Subscribe" }) === 1;
    });
    const s = await scrape(`${ts.url}/metrics`);
    const sub = { method: "Subscribe" };
    assert.equal(value(s, "switchboard_active_streams", sub), 0);
    assert.equal(value(s, "switchboard_messages_delivered_total", { ...sub, phase: "replay" }), 3);
    assert.equal(value(s, "switchboard_messages_delivered_total", { ...sub, phase: "live" }), 1);
    assert.equal(value(s, "switchboard_delivery_lag_seconds_count"), 1);
    // room_state + 3 replayed + 1 live
    assert.ok(value(s, "switchboard_rpc_messages_sent_total", sub) >= 5);
    assert.equal(value(s, "switchboard_rpc_handled_total", { ...sub, code: "canceled" }), 1);
    assert.ok(has(s, "switchboard_stream_queue_messages"));
    assert.ok(has(s, "switchboard_stream_queue_bytes"));
  });

  it("counts upload and download bytes and the messages of a client stream", async () => {
    const data = new Uint8Array(10_000).fill(7);
    const frames = createPushable<UploadFrame>();
    frames.push({ payload: { case: "metadata", value: { name: "f.bin" } } });
    for (let i = 0; i < data.length; i += 4000) {
      frames.push({ payload: { case: "chunk", value: data.subarray(i, i + 4000) } });
    }
    frames.end();
    const { file } = await grpc.upload(frames);
    let received = 0;
    for await (const r of grpc.download({ fileId: file!.id })) {
      if (r.payload.case === "chunk") received += r.payload.value.byteLength;
    }
    assert.equal(received, data.length);
    const s = await scrape(`${ts.url}/metrics`);
    assert.equal(value(s, "switchboard_upload_bytes_total"), 10_000);
    assert.equal(value(s, "switchboard_download_bytes_total"), 10_000);
    // metadata + 3 chunks
    assert.equal(value(s, "switchboard_rpc_messages_received_total", { method: "Upload" }), 4);
    assert.equal(value(s, "switchboard_rpc_handled_total", { method: "Download", code: "ok" }), 1);
  });

  it("labels the calls of other services (gRPC health) and exports process metrics", async () => {
    const sessions = new Http2SessionManager(ts.url);
    try {
      const health = createClient(
        Health,
        createGrpcTransport({ baseUrl: ts.url, sessionManager: sessions }),
      );
      await health.check({ service: "" });
    } finally {
      sessions.abort();
    }
    const res = await fetch(`${ts.url}/metrics`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const s = parsePrometheusText(await res.text());
    assert.equal(
      value(s, "switchboard_rpc_handled_total", {
        service: "grpc.health.v1.Health",
        method: "Check",
        protocol: "grpc",
        code: "ok",
      }),
      1,
    );
    assert.ok(has(s, "process_cpu_user_seconds_total"));
    assert.ok(has(s, "nodejs_eventloop_lag_seconds"));
  });
});

describe("metrics on their own port", () => {
  it("serves /metrics on metricsPort only, and 404 for it on the main port", async (t) => {
    const ts = await startTestServer({ config: { metricsPort: 0 } });
    t.after(() => ts.close());
    const metricsUrl = new URL(ts.server.metricsUrl);
    assert.notEqual(metricsUrl.port, String(ts.port));
    assert.equal(metricsUrl.pathname, "/metrics");
    const token = await ts.token({ subject: "ada", rooms: ["*"] });
    const c = variant("grpc/h2c").open(ts.url, token);
    t.after(() => c.close());
    await c.api.send({ room: "own-port", text: "x" });
    const s = await scrape(metricsUrl.href);
    assert.equal(value(s, "switchboard_rpc_handled_total", { method: "Send", code: "ok" }), 1);
    assert.equal((await fetch(`${ts.url}/metrics`)).status, 404);
    assert.equal((await fetch(new URL("/other", metricsUrl))).status, 404);
  });

  it("times SQLite appends and keeps the traceparent of stored messages across a restart", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-obs-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const ts = await startTestServer({ backend: "sqlite", dataDir: dir });
    try {
      const token = await ts.token({ subject: "ada", rooms: ["*"] });
      const c = variant("grpc/h2c").open(ts.url, token);
      try {
        await c.api.send({ room: "sq", text: "x" });
      } finally {
        c.close();
      }
      const s = await scrape(`${ts.url}/metrics`);
      assert.equal(
        value(s, "switchboard_backend_operation_duration_seconds_count", {
          backend: "sqlite",
          operation: "append",
        }),
        1,
      );
    } finally {
      await ts.close();
    }
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const sender = { id: "ada", name: "Ada" };
    let backend = createSqliteBackend({ dataDir: dir });
    const base = { room: "tp", sender, text: "t", attachments: [], clientMessageId: "" };
    const stored = await backend.log.append({ ...base, traceparent });
    await backend.log.append(base);
    assert.equal(stored.message.traceparent, traceparent);
    await backend.close();
    backend = createSqliteBackend({ dataDir: dir });
    t.after(() => backend.close());
    const page = await backend.log.read("tp", { direction: "forward", offset: 0n, limit: 10 });
    assert.equal(page.messages[0]?.traceparent, traceparent);
    assert.equal(page.messages[1]?.traceparent, undefined);
    assert.equal(schemaVersion, 2);
  });
});

describe("service telemetry units", () => {
  it("sums the depth of open stream queues and forgets a queue when its call ends", async () => {
    const metrics = createMetrics();
    const queues = createQueueRegistry();
    metrics.setQueueDepthSource(() => queues.depth());
    const ac = new AbortController();
    queues.add({ length: 3, bytes: 300, closed: false }, signalEndHook(ac.signal));
    queues.add(
      { length: 9, bytes: 900, closed: true },
      signalEndHook(new AbortController().signal),
    );
    let s = parsePrometheusText((await metrics.render()).body);
    assert.equal(value(s, "switchboard_stream_queue_messages"), 3);
    assert.equal(value(s, "switchboard_stream_queue_bytes"), 300);
    ac.abort();
    s = parsePrometheusText((await metrics.render()).body);
    assert.equal(value(s, "switchboard_stream_queue_messages"), 0);
  });

  it("counts backend events and timings reported through a backend observer", async () => {
    const metrics = createMetrics();
    const observer = createBackendObserver(metrics, "jetstream");
    observer.event("nats_reconnect");
    observer.event("nats_reconnect");
    observer.timing("publish_ack", 0.004);
    const s = parsePrometheusText((await metrics.render()).body);
    const labels = { backend: "jetstream" };
    assert.equal(
      value(s, "switchboard_backend_events_total", { ...labels, event: "nats_reconnect" }),
      2,
    );
    assert.equal(
      value(s, "switchboard_backend_operation_duration_seconds_count", {
        ...labels,
        operation: "publish_ack",
      }),
      1,
    );
  });

  it("counts a slow-consumer failure of a stream, and no other failure", async () => {
    const metrics = createMetrics();
    const telemetry = createCallTelemetry({
      metrics,
      queues: createQueueRegistry(),
      method: "Subscribe",
    });
    telemetry.streamFailed(
      new ConnectError(`${slowConsumerPrefix} more than 10 bytes queued`, Code.ResourceExhausted),
    );
    telemetry.streamFailed(new ConnectError("canceled", Code.Canceled));
    const s = parsePrometheusText((await metrics.render()).body);
    assert.equal(
      value(s, "switchboard_slow_consumer_disconnects_total", { method: "Subscribe" }),
      1,
    );
  });
});

describe("deploy files", () => {
  it("the Grafana dashboard and the Prometheus alerts use only metrics the server exports", async () => {
    const exported = new Set(
      createMetrics()
        .registry.getMetricsAsArray()
        .map((m) => m.name),
    );
    const dashboard = JSON.parse(
      await readFile(
        new URL("../deploy/grafana/switchboard-dashboard.json", import.meta.url),
        "utf8",
      ),
    ) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };
    const alerts = await readFile(
      new URL("../deploy/prometheus/switchboard-alerts.yml", import.meta.url),
      "utf8",
    );
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    assert.ok(exprs.length >= 15);
    for (const p of dashboard.panels) {
      if (p.type !== "row") assert.ok((p.targets ?? []).length > 0, p.title);
    }
    for (const text of [...exprs, alerts]) {
      for (const [name] of text.matchAll(/switchboard_[a-z_]+/g)) {
        const base = name.replace(/_(bucket|count|sum)$/, "");
        assert.ok(exported.has(base), `${name} is not exported`);
      }
    }
  });
});
