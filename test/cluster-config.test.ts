/**
 * Cluster-mode configuration: the NATS settings read from SWITCHBOARD_*
 * variables and `serve` flags, their defaults and their errors, and the
 * HAProxy template rendering the cluster script and tests rely on.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { runCli } from "../src/cli/main.js";
import {
  ConfigError,
  defaultNatsConfig,
  defaultServerConfig,
  parseDurationMs,
  serverConfigFromEnv,
  validateServerConfig,
} from "../src/server/config.js";
import { haproxyTemplatePath, renderHaproxyConfig } from "./helpers/haproxy.js";

async function serve(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(["serve", ...args], {
    env,
    stdout: { write: (s: string | Uint8Array) => (stdout += String(s)) },
    stderr: { write: (s: string | Uint8Array) => (stderr += String(s)) },
    stdin: Readable.from([]),
    signal: AbortSignal.abort(),
  });
  return { code, stdout, stderr };
}

describe("cluster mode configuration", () => {
  it("has no NATS section unless SWITCHBOARD_NATS_URL is set", () => {
    assert.equal(serverConfigFromEnv({}).nats, undefined);
    assert.equal("nats" in serverConfigFromEnv({ SWITCHBOARD_NATS_URL: "" }), false);
  });

  it("reads every NATS variable, with defaults for the unset ones", () => {
    assert.deepEqual(serverConfigFromEnv({ SWITCHBOARD_NATS_URL: "nats://10.0.0.1:4222" }).nats, {
      servers: ["nats://10.0.0.1:4222"],
      prefix: "switchboard",
      dedupeWindowMs: 120_000,
      maxAgeMs: 0,
      maxMessagesPerRoom: 0,
      replicas: 1,
    });
    assert.deepEqual(
      serverConfigFromEnv({
        SWITCHBOARD_NATS_URL: "nats://a:4222, nats://b:4222 ,c:4222",
        SWITCHBOARD_NATS_PREFIX: "chat-prod",
        SWITCHBOARD_RETENTION_MAX_AGE: "7d",
        SWITCHBOARD_RETENTION_MAX_MESSAGES: "10000",
        SWITCHBOARD_NATS_REPLICAS: "3",
        SWITCHBOARD_DEDUPE_WINDOW: "5m",
      }).nats,
      {
        servers: ["nats://a:4222", "nats://b:4222", "c:4222"],
        prefix: "chat-prod",
        dedupeWindowMs: 300_000,
        maxAgeMs: 7 * 86_400_000,
        maxMessagesPerRoom: 10_000,
        replicas: 3,
      },
    );
    assert.deepEqual(defaultNatsConfig, {
      prefix: "switchboard",
      dedupeWindowMs: 120_000,
      maxAgeMs: 0,
      maxMessagesPerRoom: 0,
      replicas: 1,
    });
  });

  it("names the variable of an invalid NATS setting", () => {
    const base = { SWITCHBOARD_NATS_URL: "nats://127.0.0.1:4222" };
    const cases: [Record<string, string>, RegExp][] = [
      [{ SWITCHBOARD_NATS_REPLICAS: "7" }, /^SWITCHBOARD_NATS_REPLICAS: must be an integer 1-5/],
      [{ SWITCHBOARD_NATS_REPLICAS: "0" }, /^SWITCHBOARD_NATS_REPLICAS/],
      [
        { SWITCHBOARD_RETENTION_MAX_AGE: "a week" },
        /^SWITCHBOARD_RETENTION_MAX_AGE: must be a duration/,
      ],
      [{ SWITCHBOARD_RETENTION_MAX_MESSAGES: "-1" }, /^SWITCHBOARD_RETENTION_MAX_MESSAGES/],
      [{ SWITCHBOARD_DEDUPE_WINDOW: "0" }, /^SWITCHBOARD_DEDUPE_WINDOW: must be a duration/],
      [
        { SWITCHBOARD_DEDUPE_WINDOW: "50ms" },
        /^SWITCHBOARD_DEDUPE_WINDOW: must be an integer >= 100/,
      ],
      [{ SWITCHBOARD_NATS_PREFIX: "a.b" }, /^SWITCHBOARD_NATS_PREFIX: must be 1-64 characters/],
      [
        { SWITCHBOARD_NATS_URL: "http://x/y" },
        /^SWITCHBOARD_NATS_URL: "http:\/\/x\/y" is not a NATS URL/,
      ],
      [{ SWITCHBOARD_NATS_URL: " , " }, /^SWITCHBOARD_NATS_URL: at least one NATS URL/],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => serverConfigFromEnv({ ...base, ...env }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });

  it("rejects retention and dedupe settings without SWITCHBOARD_NATS_URL", () => {
    assert.throws(
      () => serverConfigFromEnv({ SWITCHBOARD_RETENTION_MAX_AGE: "1d" }),
      /^ConfigError: SWITCHBOARD_RETENTION_MAX_AGE: only used with SWITCHBOARD_NATS_URL/,
    );
  });

  it("validates a programmatic NATS section by field name", () => {
    assert.throws(
      () =>
        validateServerConfig({
          ...defaultServerConfig,
          nats: { ...defaultNatsConfig, servers: [], replicas: 3 },
        }),
      /nats\.servers: at least one NATS URL/,
    );
  });

  it("parses durations with units, a bare number as seconds, and 0 only where allowed", () => {
    assert.equal(parseDurationMs("X", "250ms", false), 250);
    assert.equal(parseDurationMs("X", "90", false), 90_000);
    assert.equal(parseDurationMs("X", "30m", false), 1_800_000);
    assert.equal(parseDurationMs("X", "24h", false), 86_400_000);
    assert.equal(parseDurationMs("X", "0", true), 0);
    assert.throws(() => parseDurationMs("X", "0", false), /^ConfigError: X: must be a duration/);
    assert.throws(() => parseDurationMs("X", "1w", true), /X: must be a duration/);
  });
});

describe("serve cluster flags", () => {
  it("documents every cluster flag in --help", async () => {
    const { code, stdout } = await serve(["--help"]);
    assert.equal(code, 0);
    for (const flag of [
      "--nats <url>",
      "--nats-prefix",
      "--nats-replicas",
      "--retention-max-age",
      "--retention-max-messages",
      "--dedupe-window",
    ]) {
      assert.ok(stdout.includes(flag), `help mentions ${flag}`);
    }
  });

  it("rejects cluster settings without --nats as a usage error naming the flag", async () => {
    const { code, stderr } = await serve(["--retention-max-age", "1d"]);
    assert.equal(code, 2);
    assert.match(stderr, /--retention-max-age: only used with --nats/);
  });

  it("rejects malformed cluster flag values as usage errors", async () => {
    const cases: [string[], RegExp][] = [
      [["--nats", "nats://x:4222", "--nats-replicas", "9"], /--nats-replicas: must be 1-5/],
      [
        ["--nats", "nats://x:4222", "--dedupe-window", "soon"],
        /--dedupe-window: must be a duration/,
      ],
      [["--nats", ""], /--nats: must be a NATS URL/],
      [["--nats", "nats://x:4222", "--retention-max-messages", "-3"], /--retention-max-messages/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await serve(args);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, message);
    }
  });
});

describe("HAProxy template", () => {
  it("puts one server line per node between each pair of markers and keeps the rest", async () => {
    const template = await readFile(haproxyTemplatePath, "utf8");
    const cfg = renderHaproxyConfig(template, {
      nodes: ["127.0.0.1:9001", "127.0.0.1:9002"],
      statsBind: "127.0.0.1:9100",
    });
    const servers = cfg.split("\n").filter((l) => /^\s*server /.test(l));
    // Once for the h2c backend, once for the WebSocket (tunnel) backend.
    const nodes = ["server node1 127.0.0.1:9001", "server node2 127.0.0.1:9002"];
    assert.deepEqual(
      servers.map((l) => l.trim()),
      [...nodes, ...nodes],
    );
    assert.match(cfg, /use_backend switchboard_tunnel if \{ hdr\(upgrade\) -i websocket \}/);
    assert.match(cfg, /default-server proto h2 check/);
    assert.match(cfg, /option httpchk/);
    assert.match(cfg, /listen stats\n {4}bind 127\.0\.0\.1:9100/);
    // The bind line takes HTTP/1.1 and h2c: no "proto" on it.
    const bind = cfg.split("\n").find((l) => /^\s*bind "\$\{SWITCHBOARD_LB_BIND/.test(l));
    assert.ok(bind && !/proto/.test(bind), bind);
  });
});
