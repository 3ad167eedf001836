import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigError,
  defaultServerConfig,
  serverConfigFromEnv,
  validateServerConfig,
} from "../src/server/config.js";

describe("server config", () => {
  it("has the documented defaults", () => {
    assert.deepEqual(
      { ...defaultServerConfig },
      {
        host: "127.0.0.1",
        port: 8080,
        dataDir: "./data",
        backend: "sqlite",
        corsOrigins: [],
        unaryTimeoutMs: 30_000,
        shutdownGraceMs: 5_000,
        limits: {},
        dev: false,
      },
    );
  });

  it("returns the defaults for an empty environment and treats empty variables as unset", () => {
    assert.deepEqual(serverConfigFromEnv({}), { ...defaultServerConfig });
    assert.deepEqual(serverConfigFromEnv({ SWITCHBOARD_PORT: "", SWITCHBOARD_HOST: " " }), {
      ...defaultServerConfig,
    });
  });

  it("reads every SWITCHBOARD_* variable", () => {
    const config = serverConfigFromEnv({
      SWITCHBOARD_HOST: "0.0.0.0",
      SWITCHBOARD_PORT: "0",
      SWITCHBOARD_DATA_DIR: "/var/lib/sb",
      SWITCHBOARD_BACKEND: "memory",
      SWITCHBOARD_JWT_SECRET: "x".repeat(32),
      SWITCHBOARD_TLS_CERT: "/c.pem",
      SWITCHBOARD_TLS_KEY: "/k.pem",
      SWITCHBOARD_CORS_ORIGINS: "https://a.example, http://localhost:5173,,",
      SWITCHBOARD_UNARY_TIMEOUT_MS: "1500",
      SWITCHBOARD_SHUTDOWN_GRACE_MS: "0",
      SWITCHBOARD_DEV: "true",
      SWITCHBOARD_HEARTBEAT_MS: "2000",
      SWITCHBOARD_MAX_FILE_BYTES: "1048576",
      SWITCHBOARD_MAX_TEXT_BYTES: "100",
      SWITCHBOARD_MAX_ATTACHMENTS: "2",
      SWITCHBOARD_MAX_ROOMS_PER_SUBSCRIPTION: "3",
      SWITCHBOARD_MAX_CHUNK_BYTES: "4096",
      SWITCHBOARD_DOWNLOAD_CHUNK_BYTES: "1024",
      SWITCHBOARD_MAX_QUEUE_BYTES: "65536",
      SWITCHBOARD_REPLAY_PAGE_SIZE: "10",
    });
    assert.deepEqual(config, {
      host: "0.0.0.0",
      port: 0,
      dataDir: "/var/lib/sb",
      backend: "memory",
      jwtSecret: "x".repeat(32),
      tlsCert: "/c.pem",
      tlsKey: "/k.pem",
      corsOrigins: ["https://a.example", "http://localhost:5173"],
      unaryTimeoutMs: 1500,
      shutdownGraceMs: 0,
      dev: true,
      limits: {
        heartbeatIntervalMs: 2000,
        maxFileBytes: 1_048_576,
        maxTextBytes: 100,
        maxAttachments: 2,
        maxRoomsPerSubscription: 3,
        maxChunkBytes: 4096,
        downloadChunkBytes: 1024,
        maxQueueBytes: 65_536,
        replayPageSize: 10,
      },
    });
  });

  it("rejects invalid values with an error naming the variable", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { SWITCHBOARD_PORT: "70000" },
        /^SWITCHBOARD_PORT: must be an integer 0-65535, got "70000"$/,
      ],
      [{ SWITCHBOARD_PORT: "80a" }, /^SWITCHBOARD_PORT:/],
      [{ SWITCHBOARD_PORT: "-1" }, /^SWITCHBOARD_PORT:/],
      [{ SWITCHBOARD_BACKEND: "redis" }, /^SWITCHBOARD_BACKEND: must be "sqlite" or "memory"/],
      [{ SWITCHBOARD_JWT_SECRET: "short" }, /^SWITCHBOARD_JWT_SECRET: must be at least 32 bytes$/],
      [
        { SWITCHBOARD_TLS_CERT: "/c.pem" },
        /SWITCHBOARD_TLS_CERT\/SWITCHBOARD_TLS_KEY: set both or neither/,
      ],
      [
        { SWITCHBOARD_CORS_ORIGINS: "https://a.example/path" },
        /^SWITCHBOARD_CORS_ORIGINS: "https:\/\/a.example\/path"/,
      ],
      [
        { SWITCHBOARD_UNARY_TIMEOUT_MS: "0" },
        /^SWITCHBOARD_UNARY_TIMEOUT_MS: must be an integer >= 1/,
      ],
      [{ SWITCHBOARD_HEARTBEAT_MS: "1.5" }, /^SWITCHBOARD_HEARTBEAT_MS:/],
      [{ SWITCHBOARD_MAX_FILE_BYTES: "lots" }, /^SWITCHBOARD_MAX_FILE_BYTES:/],
      [{ SWITCHBOARD_DEV: "maybe" }, /^SWITCHBOARD_DEV: must be true or false/],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => serverConfigFromEnv(env),
        (e: unknown) => e instanceof ConfigError && message.test(e.message),
        JSON.stringify(env),
      );
    }
  });

  it("accepts * as a CORS origin only when configured explicitly", () => {
    assert.deepEqual(serverConfigFromEnv({ SWITCHBOARD_CORS_ORIGINS: "*" }).corsOrigins, ["*"]);
  });

  it("validates programmatic configs with field names", () => {
    assert.throws(
      () => validateServerConfig({ ...defaultServerConfig, port: 1.5 }),
      /^ConfigError: port: must be an integer 0-65535$/,
    );
    assert.throws(
      () => validateServerConfig({ ...defaultServerConfig, limits: { maxTextBytes: 0 } }),
      /limits\.maxTextBytes: must be a positive integer/,
    );
  });
});
