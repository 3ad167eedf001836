import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { mintToken } from "../src/auth/tokens.js";
import { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { ConfigError } from "../src/server/config.js";
import { loadJwtSecret } from "../src/server/jwt-secret.js";
import { startTestServer } from "./helpers/start-server.js";

describe("jwt secret", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchboard-secret-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("generates <dataDir>/jwt-secret with mode 0600 in a 0700 directory and reuses it", async () => {
    const dataDir = join(dir, "data");
    const first = await loadJwtSecret({ dataDir });
    assert.equal(first.byteLength, 32);
    assert.equal((await stat(join(dataDir, "jwt-secret"))).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    assert.match(await readFile(join(dataDir, "jwt-secret"), "utf8"), /^[0-9a-f]{64}\n$/);
    assert.deepEqual(await loadJwtSecret({ dataDir }), first);
  });

  it("uses a configured secret as UTF-8 bytes and writes no file", async () => {
    const secret = await loadJwtSecret({ dataDir: dir, jwtSecret: "s".repeat(40) });
    assert.deepEqual(secret, new TextEncoder().encode("s".repeat(40)));
    await assert.rejects(stat(join(dir, "jwt-secret")));
    await assert.rejects(loadJwtSecret({ dataDir: dir, jwtSecret: "short" }), ConfigError);
  });

  it("tightens a too-open secret file to 0600 and refuses a corrupt one", async () => {
    const file = join(dir, "jwt-secret");
    await writeFile(file, "ab".repeat(32), { mode: 0o644 });
    assert.equal((await loadJwtSecret({ dataDir: dir })).byteLength, 32);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await writeFile(file, "not hex");
    await assert.rejects(loadJwtSecret({ dataDir: dir }), /delete it to generate a new secret/);
  });

  it("keeps tokens valid across a server restart on the same data directory", async () => {
    const first = await startTestServer({ backend: "sqlite", dataDir: dir });
    const token = await first.token({ subject: "ada", rooms: ["*"] });
    const secret = first.server.secret;
    await first.close();
    assert.equal((await stat(join(dir, "jwt-secret"))).mode & 0o777, 0o600);
    const second = await startTestServer({ backend: "sqlite", dataDir: dir });
    try {
      assert.deepEqual(second.server.secret, secret);
      const client = createClient(
        ChatService,
        createConnectTransport({
          baseUrl: second.url,
          httpVersion: "1.1",
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ],
        }),
      );
      const res = await client.history({ room: "lobby" });
      assert.equal(res.messages.length, 0);
      const forged = await mintToken(new Uint8Array(32).fill(7), { subject: "ada", rooms: ["*"] });
      const bad = createClient(
        ChatService,
        createConnectTransport({
          baseUrl: second.url,
          httpVersion: "1.1",
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${forged}`);
              return next(req);
            },
          ],
        }),
      );
      await assert.rejects(bad.history({ room: "lobby" }), (e: unknown) => {
        return ConnectError.from(e).code === Code.Unauthenticated;
      });
    } finally {
      await second.close();
    }
  });
});
