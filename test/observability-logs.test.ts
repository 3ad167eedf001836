/**
 * Structured logs: one JSON line per RPC with method, protocol, user, code,
 * duration and bytes, never a token or a message body; internal errors
 * logged with their cause but never sent to clients; `--log-level`,
 * `--metrics-port` and their environment variables.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { mintToken } from "../src/auth/tokens.js";
import { createMemoryBackend } from "../src/backend/memory/index.js";
import type { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import type { LogLevel } from "../src/observability/log-levels.js";
import { createObservability } from "../src/observability/observability.js";
import { ConfigError, defaultServerConfig, serverConfigFromEnv } from "../src/server/config.js";
import { serveChatService } from "../src/server/serve.js";
import { createChatService } from "../src/service/chat-service.js";
import { cliEnv, spawnCli } from "./helpers/cli.js";
import { expectConnectError, protocolVariants, waitFor } from "./helpers/clients.js";
import { scrape, value } from "./helpers/prometheus-text.js";

const secret = new TextEncoder().encode("0123456789abcdef0123456789abcdef-logs");
type Line = Record<string, unknown>;

/** Serves a real ChatService (memory backend) whose log lines are collected as objects. */
async function serveWithLog(
  logLevel: LogLevel,
  service: Partial<ServiceImpl<typeof ChatService>> = createChatService({
    backend: createMemoryBackend(),
  }),
) {
  const raw: string[] = [];
  const lines: Line[] = [];
  const observability = createObservability({
    logLevel,
    logDestination: {
      write(s: string) {
        raw.push(s);
        lines.push(JSON.parse(s) as Line);
      },
    },
  });
  const server = await serveChatService({
    config: { ...defaultServerConfig, port: 0, shutdownGraceMs: 500 },
    secret,
    backend: createMemoryBackend(),
    service,
    observability,
  });
  return { server, lines, raw };
}

const grpc = protocolVariants.find((v) => v.name === "grpc/h2c")!;
const connect = protocolVariants.find((v) => v.name === "connect/http1.1")!;

describe("structured logs", () => {
  it("writes one line per RPC with method, protocol, user, code, duration and bytes, without token or body", async (t) => {
    const { server, lines, raw } = await serveWithLog("info");
    t.after(() => server.close());
    const token = await mintToken(secret, { subject: "ada", rooms: ["*"] });
    const c = grpc.open(server.url, token);
    t.after(() => c.close());
    await c.api.send({ room: "logs", text: "top secret body" });
    const h = connect.open(server.url, undefined);
    t.after(() => h.close());
    assert.equal(
      (await expectConnectError(h.api.history({ room: "logs" }))).code,
      Code.Unauthenticated,
    );
    await waitFor("two rpc lines", () => lines.filter((l) => l.msg === "rpc").length >= 2);

    const send = lines.find((l) => l.msg === "rpc" && l.method === "Send")!;
    assert.equal(send.level, "info");
    assert.equal(send.service, "switchboard.chat.v1.ChatService");
    assert.equal(send.protocol, "grpc");
    assert.equal(send.user, "ada");
    assert.equal(send.code, "ok");
    assert.equal(typeof send.duration_ms, "number");
    assert.ok(
      (send.bytes_in as number) > 0 && (send.bytes_out as number) > 0,
      JSON.stringify(send),
    );
    assert.match(String(send.time), /^\d{4}-\d\d-\d\dT/);

    const denied = lines.find((l) => l.msg === "rpc" && l.method === "History")!;
    assert.equal(denied.protocol, "connect");
    assert.equal(denied.code, "unauthenticated");
    assert.equal(denied.user, undefined);

    const all = raw.join("");
    assert.ok(!all.includes(token), "no token in the logs");
    assert.ok(!all.includes(token.split(".")[2]!), "no token signature in the logs");
    assert.ok(!all.includes("top secret body"), "no message body in the logs");
  });

  it("logs an internal error with its cause and sends clients only 'internal error'", async (t) => {
    const failing = {
      send: async () => {
        throw new Error("disk on fire at /var/secret");
      },
    };
    const { server, lines } = await serveWithLog("warn", failing);
    t.after(() => server.close());
    const c = grpc.open(server.url, await mintToken(secret, { subject: "ada", rooms: ["*"] }));
    t.after(() => c.close());
    const err = await expectConnectError(c.api.send({ room: "x", text: "y" }));
    assert.equal(err.code, Code.Internal);
    assert.equal(err.rawMessage, "internal error");
    await waitFor("the error line", () => lines.some((l) => l.level === "error"));
    const line = lines.find((l) => l.level === "error")!;
    assert.equal(line.msg, "switchboard.chat.v1.ChatService/Send failed");
    const cause = line.error as Record<string, unknown>;
    assert.equal(cause.message, "disk on fire at /var/secret");
    assert.equal(cause.stack, undefined, "stacks only in dev mode");
    assert.equal(lines.filter((l) => l.msg === "rpc").length, 0, "rpc lines are info, below warn");
  });
});

describe("observability settings", () => {
  it("reads SWITCHBOARD_METRICS_PORT, SWITCHBOARD_LOG_LEVEL and the OTEL_* variables", () => {
    const config = serverConfigFromEnv({
      SWITCHBOARD_METRICS_PORT: "9464",
      SWITCHBOARD_LOG_LEVEL: "debug",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_SERVICE_NAME: "sb-1",
      OTHER: "ignored",
    });
    assert.equal(config.metricsPort, 9464);
    assert.equal(config.logLevel, "debug");
    assert.deepEqual(config.otel, {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_SERVICE_NAME: "sb-1",
    });
    assert.equal(serverConfigFromEnv({}).otel, undefined);
  });

  it("rejects an unknown log level and a metrics port equal to the main port, naming the variable", () => {
    assert.throws(
      () => serverConfigFromEnv({ SWITCHBOARD_LOG_LEVEL: "loud" }),
      (e) =>
        e instanceof ConfigError && /^SWITCHBOARD_LOG_LEVEL: must be one of trace/.test(e.message),
    );
    assert.throws(
      () => serverConfigFromEnv({ SWITCHBOARD_PORT: "8080", SWITCHBOARD_METRICS_PORT: "8080" }),
      (e) => e instanceof ConfigError && /^SWITCHBOARD_METRICS_PORT: must differ/.test(e.message),
    );
    assert.throws(
      () => serverConfigFromEnv({ SWITCHBOARD_METRICS_PORT: "70000" }),
      (e) => e instanceof ConfigError && /^SWITCHBOARD_METRICS_PORT:/.test(e.message),
    );
  });

  it("serve --metrics-port --log-level: prints the metrics URL, serves it and logs RPCs as JSON", async (t) => {
    const cli = spawnCli(
      [
        "serve",
        "--port",
        "0",
        "--backend",
        "memory",
        "--jwt-secret",
        "0123456789abcdef0123456789abcdef-cli",
        "--metrics-port",
        "0",
        "--log-level",
        "info",
      ],
      { env: cliEnv(), timeoutMs: 30_000 },
    );
    t.after(async () => {
      cli.child.kill("SIGTERM");
      await cli.exited;
    });
    await cli.waitFor(/metrics: (http:\S+)/);
    const metricsUrl = /metrics: (http:\S+)/.exec(cli.output.stdout)![1]!;
    const serverUrl = /listening on (http:\S+)/.exec(cli.output.stdout)![1]!;
    assert.notEqual(new URL(metricsUrl).port, new URL(serverUrl).port);
    const c = connect.open(serverUrl, undefined);
    t.after(() => c.close());
    await expectConnectError(c.api.history({ room: "cli" }));
    await cli.waitFor(/"msg":"rpc"/);
    const line = JSON.parse(cli.output.stderr.split("\n").find((l) => l.includes('"msg":"rpc"'))!);
    assert.equal(line.method, "History");
    assert.equal(line.code, "unauthenticated");
    const s = await scrape(metricsUrl);
    assert.equal(value(s, "switchboard_auth_failures_total", { reason: "missing" }), 1);
  });

  it("serve rejects an unknown --log-level as a usage error", async () => {
    const run = await spawnCli(["serve", "--log-level", "loud"], { env: cliEnv() }).exited;
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--log-level: must be one of/);
  });
});
