/**
 * OpenTelemetry tracing against an in-process OTLP/HTTP receiver: a server
 * span per RPC continuing the caller's W3C `traceparent` (injected by the
 * SDK), and a delivery span per message handed to a subscriber stream,
 * child of that stream's span and linked to the span of the Send that
 * stored the message. Tracing stays off without OTEL_* settings.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { type SpanContext, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { createSwitchboardClient } from "../src/client/index.js";
import { deliverySpanName } from "../src/observability/call-telemetry.js";
import {
  createTracing,
  formatTraceparent,
  parseTraceparent,
} from "../src/observability/tracing.js";
import {
  type ChatApi,
  expectConnectError,
  protocolVariants,
  type TestClient,
} from "./helpers/clients.js";
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from "./helpers/otlp-receiver.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

const chat = "switchboard.chat.v1.ChatService";
const SERVER = 2;
const CONSUMER = 5;
const grpcVariant = protocolVariants.find((v) => v.name === "grpc/h2c")!;

/** Reads a subscription until a message with `text` arrives. */
async function untilMessage(
  it: AsyncIterator<{ event: { case: string | undefined; value?: unknown } }>,
  text: string,
): Promise<void> {
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error(`stream ended before "${text}"`);
    const ev = r.value.event;
    if (ev.case === "message" && (ev.value as { text: string }).text === text) return;
  }
}

describe("tracing through Send and delivery", () => {
  let otlp: OtlpReceiver;
  let ts: TestServer;
  let token: string;
  const clients: TestClient[] = [];
  const provider = new NodeTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())],
  });
  const clientTracer = provider.getTracer("test-client");
  const open = (t: string | undefined): ChatApi => {
    const c = grpcVariant.open(ts.url, t);
    clients.push(c);
    return c.api;
  };
  let send: ReceivedSpan;
  let clientSpan: SpanContext;

  before(async () => {
    // The client side: a registered SDK, so the Switchboard SDK injects traceparent.
    provider.register();
    otlp = await startOtlpReceiver();
    ts = await startTestServer({
      config: {
        otel: {
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_BSP_SCHEDULE_DELAY: "20",
          OTEL_SERVICE_NAME: "switchboard-test",
        },
      },
    });
    token = await ts.token({ subject: "ada", rooms: ["*"] });
  });
  after(async () => {
    for (const c of clients) c.close();
    await ts.close();
    await otlp.close();
    await provider.shutdown();
    trace.disable();
  });

  it("continues the caller's trace in the Send span and stores its traceparent with the message", async () => {
    const sb = createSwitchboardClient({ baseUrl: ts.url, token, protocol: "grpc" });
    clientSpan = await clientTracer.startActiveSpan("client operation", async (span) => {
      await sb.send("traced", "hello");
      span.end();
      return span.spanContext();
    });
    send = await otlp.waitForSpan((s) => s.name === `${chat}/Send`);
    assert.equal(send.kind, SERVER);
    assert.equal(send.traceId, clientSpan.traceId);
    assert.equal(send.parentSpanId, clientSpan.spanId);
    assert.equal(send.serviceName, "switchboard-test");
    assert.equal(send.attributes["rpc.system"], "grpc");
    assert.equal(send.attributes["rpc.service"], chat);
    assert.equal(send.attributes["rpc.method"], "Send");
    assert.equal(send.attributes["rpc.grpc.status_code"], 0);
    const page = await ts.server.backend.log.read("traced", {
      direction: "forward",
      offset: 0n,
      limit: 1,
    });
    assert.equal(page.messages[0]?.traceparent, `00-${send.traceId}-${send.spanId}-01`);
  });

  it("creates a live delivery span under the Subscribe span, linked to the Send span", async () => {
    const ac = new AbortController();
    const api = open(token);
    const stream = api
      .subscribe({ rooms: [{ room: "live-traced" }] }, { signal: ac.signal })
      [Symbol.asyncIterator]();
    await stream.next(); // room_state: the feed is live
    const sb = createSwitchboardClient({ baseUrl: ts.url, token, protocol: "connect" });
    await clientTracer.startActiveSpan("publisher", async (span) => {
      await sb.send("live-traced", "ping");
      span.end();
    });
    await untilMessage(stream, "ping");
    ac.abort();
    await stream.next().catch(() => undefined);

    const liveSend = await otlp.waitForSpan(
      (s) => s.name === `${chat}/Send` && s.attributes["switchboard.protocol"] === "connect",
    );
    assert.equal(liveSend.attributes["rpc.system"], "connect_rpc");
    const subscribe = await otlp.waitForSpan((s) => s.name === `${chat}/Subscribe`);
    assert.equal(subscribe.kind, SERVER);
    assert.equal(subscribe.parentSpanId, "", "the test's subscriber sent no traceparent");
    assert.equal(subscribe.attributes["rpc.connect_rpc.error_code"], "canceled");
    const delivery = await otlp.waitForSpan(
      (s) =>
        s.name === deliverySpanName && s.attributes["messaging.destination.name"] === "live-traced",
    );
    assert.equal(delivery.kind, CONSUMER);
    assert.equal(delivery.traceId, subscribe.traceId);
    assert.equal(delivery.parentSpanId, subscribe.spanId);
    assert.deepEqual(delivery.links, [{ traceId: liveSend.traceId, spanId: liveSend.spanId }]);
    assert.equal(delivery.attributes["switchboard.delivery.phase"], "live");
    assert.equal(delivery.attributes["switchboard.message.offset"], 1);
  });

  it("links a delivery replayed from history to the Send that stored the message", async () => {
    const api = open(token);
    const ac = new AbortController();
    const stream = api
      .subscribe(
        { rooms: [{ room: "traced", start: { case: "afterOffset", value: 0n } }] },
        { signal: ac.signal },
      )
      [Symbol.asyncIterator]();
    await untilMessage(stream, "hello");
    ac.abort();
    await stream.next().catch(() => undefined);
    const replay = await otlp.waitForSpan(
      (s) => s.name === deliverySpanName && s.attributes["switchboard.delivery.phase"] === "replay",
    );
    assert.deepEqual(replay.links, [{ traceId: send.traceId, spanId: send.spanId }]);
    assert.equal(replay.attributes["messaging.destination.name"], "traced");
  });

  it("traces calls rejected as unauthenticated, without marking them server errors", async () => {
    const anonymous = open(undefined);
    const err = await expectConnectError(anonymous.history({ room: "traced" }));
    assert.equal(err.code, Code.Unauthenticated);
    const span = await otlp.waitForSpan((s) => s.name === `${chat}/History`);
    assert.equal(span.attributes["rpc.grpc.status_code"], Code.Unauthenticated);
    assert.equal(span.attributes["rpc.connect_rpc.error_code"], "unauthenticated");
    assert.equal(span.status, 0);
  });
});

describe("tracing configuration", () => {
  it("is off without an exporter setting, with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none", async () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1" };
    for (const env of [
      {},
      { ...endpoint, OTEL_SDK_DISABLED: "true" },
      { ...endpoint, OTEL_TRACES_EXPORTER: "none" },
    ]) {
      const tracing = createTracing(env);
      assert.equal(tracing.tracer, undefined, JSON.stringify(env));
      await tracing.shutdown();
    }
    const on = createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1/" });
    assert.equal(on.exportTarget, "http://127.0.0.1:1/v1/traces");
    await on.shutdown();
    const exact = createTracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:1/t" });
    assert.equal(exact.exportTarget, "http://127.0.0.1:1/t");
    await exact.shutdown();
  });

  it("stores no traceparent when the server does not trace", async (t) => {
    const ts = await startTestServer();
    t.after(() => ts.close());
    const c = grpcVariant.open(ts.url, await ts.token({ subject: "ada", rooms: ["*"] }));
    t.after(() => c.close());
    await c.api.send({ room: "untraced", text: "x" });
    const page = await ts.server.backend.log.read("untraced", {
      direction: "forward",
      offset: 0n,
      limit: 1,
    });
    assert.equal(page.messages[0]?.traceparent, undefined);
  });

  it("round-trips traceparent values and rejects invalid ones", () => {
    const value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const sc = parseTraceparent(value);
    assert.ok(sc);
    assert.equal(formatTraceparent(sc), value);
    assert.equal(
      parseTraceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
      undefined,
    );
    assert.equal(parseTraceparent("garbage"), undefined);
    assert.equal(parseTraceparent(undefined), undefined);
  });
});
