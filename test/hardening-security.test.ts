/**
 * Security checks over real sockets: a token's not-before is honoured; a
 * token never grants more than its claims (publish and subscribe rights are
 * separate on every streaming RPC); an induced backend failure reaches no
 * client with a stack trace or an internal path, over every protocol; CORS
 * allows only configured origins; `switchboard serve` creates its data
 * directory and files with private permissions.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { mintToken } from "../src/auth/tokens.js";
import { createBackend } from "../src/backend/create-backend.js";
import type { Backend } from "../src/backend/types.js";
import { createSwitchboardClient } from "../src/client/index.js";
import { defaultServerConfig } from "../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../src/server/serve.js";
import { createChatService } from "../src/service/chat-service.js";
import { cliEnv, spawnCli } from "./helpers/cli.js";
import {
  type ChatApi,
  createPushable,
  expectConnectError,
  protocolVariants,
} from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

type ChatFrame = Parameters<ChatApi["chat"]>[0] extends AsyncIterable<infer T> ? T : never;

describe("security: tokens", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(() => ts?.close());

  for (const v of protocolVariants) {
    it(`a token before its not-before time is refused with Unauthenticated, after it accepted (${v.name})`, async () => {
      const now = Math.floor(Date.now() / 1000);
      const early = await ts.token({ subject: "nbf", rooms: ["*"], notBefore: now + 3600 });
      const due = await ts.token({ subject: "nbf", rooms: ["*"], notBefore: now - 1 });
      const c = v.open(ts.url, early);
      const ok = v.open(ts.url, due);
      try {
        const err = await expectConnectError(c.api.send({ room: "nbf", text: "x" }));
        assert.equal(err.code, Code.Unauthenticated);
        assert.match(decodeURIComponent(err.rawMessage), /not yet valid/);
        const res = await ok.api.send({ room: "nbf", text: "x" });
        assert.equal(res.message?.sender?.id, "nbf");
      } finally {
        c.close();
        ok.close();
      }
    });
  }

  it("publish-only and subscribe-only tokens get exactly their rights on every streaming RPC", async () => {
    const writer = await ts.token({ subject: "walt", publish: ["news"] });
    const reader = await ts.token({ subject: "rita", subscribe: ["news"] });
    const both = await ts.token({ subject: "ada", rooms: ["news"] });
    const w = createSwitchboardClient({ baseUrl: ts.url, token: writer });
    const r = createSwitchboardClient({ baseUrl: ts.url, token: reader });
    const a = createSwitchboardClient({ baseUrl: ts.url, token: both });
    const denied = async (p: Promise<unknown>) =>
      assert.equal((await expectConnectError(p)).code, Code.PermissionDenied);

    // Subscribe and Download of a room's file need subscribe rights.
    await denied(
      (async () => {
        for await (const _ of w.rpc.subscribe({ rooms: [{ room: "news" }] }, { timeoutMs: 5000 }))
          return;
      })(),
    );
    const file = await a.upload({ name: "n.txt", room: "news" }, [new Uint8Array([1, 2, 3])]);
    await denied(
      (async () => {
        for await (const _ of w.rpc.download({ fileId: file.id }, { timeoutMs: 5000 })) return;
      })(),
    );
    // Upload for a room needs publish rights.
    await denied(r.upload({ name: "x.txt", room: "news" }, [new Uint8Array([1])]));
    // Allowed the other way round.
    await w.upload({ name: "w.txt", room: "news" }, [new Uint8Array([1])]);
    for await (const _ of r.rpc.subscribe({ rooms: [{ room: "news" }] }, { timeoutMs: 5000 }))
      break;

    // Chat: join needs subscribe, send needs publish.
    const chatAs = async (token: string, frames: ChatFrame[]) => {
      const c = protocolVariants[0]!.open(ts.url, token);
      const reqs = createPushable<ChatFrame>();
      try {
        for (const f of frames) reqs.push(f);
        const it = c.api.chat(reqs, { timeoutMs: 5000 })[Symbol.asyncIterator]();
        const answers: string[] = [];
        while (answers.length < frames.length) {
          const ev = (await it.next()).value?.event;
          if (ev?.case === "error") answers.push(`${ev.value.requestId}:${ev.value.code}`);
          if (ev?.case === "joined" || ev?.case === "ack") answers.push(`${ev.value.requestId}:ok`);
        }
        await it.return?.();
        return answers.sort();
      } finally {
        reqs.end();
        c.close();
      }
    };
    const join: ChatFrame = {
      requestId: "join",
      action: { case: "join", value: { position: { room: "news" } } },
    };
    const send: ChatFrame = {
      requestId: "send",
      action: { case: "send", value: { room: "news", text: "hi" } },
    };
    assert.deepEqual(await chatAs(writer, [join, send]), ["join:permission_denied", "send:ok"]);
    assert.deepEqual(await chatAs(reader, [join, send]), ["join:ok", "send:permission_denied"]);
  });
});

describe("security: internal errors", () => {
  const secret = new Uint8Array(randomBytes(32));
  const logged: unknown[] = [];
  let server: SwitchboardServer;
  let backend: Backend;
  const secretPath = "/var/lib/switchboard/secret-dir/switchboard.db";
  before(async () => {
    backend = await createBackend({ kind: "memory" });
    const fail = async (): Promise<never> => {
      throw new Error(`SQLITE_IOERR: disk I/O error at ${secretPath}`);
    };
    // Induce a backend failure on every path the RPCs take.
    backend.log.append = fail;
    backend.log.read = fail;
    backend.log.info = fail;
    backend.blobs.stat = fail;
    server = await serveChatService({
      config: { ...defaultServerConfig, port: 0, dev: false },
      secret,
      backend,
      service: createChatService({ backend }),
      errorLog: (_line, cause) => logged.push(cause),
    });
  });
  after(() => server?.close());

  const leaks = (text: string) =>
    text.includes(secretPath) || /SQLITE|\n\s+at |\.ts:\d+|node_modules/.test(text);

  for (const v of protocolVariants) {
    it(`a backend failure reaches the client as "internal error" without stack or path (${v.name})`, async () => {
      const token = await mintToken(secret, { subject: "u", rooms: ["*"] });
      const c = v.open(server.url, token);
      try {
        const calls: [string, () => Promise<unknown>][] = [
          ["send", () => c.api.send({ room: "r", text: "x" })],
          ["history", () => c.api.history({ room: "r" })],
          [
            "subscribe",
            async () => {
              for await (const _ of c.api.subscribe(
                { rooms: [{ room: "r" }] },
                { timeoutMs: 5000 },
              ))
                return;
            },
          ],
          [
            "download",
            async () => {
              for await (const _ of c.api.download({ fileId: "f1" }, { timeoutMs: 5000 })) return;
            },
          ],
        ];
        for (const [name, call] of calls) {
          const err = await expectConnectError(call());
          assert.equal(err.code, Code.Internal, `${name}: ${err.message}`);
          assert.equal(decodeURIComponent(err.rawMessage), "internal error", name);
          const lines: string[] = [];
          err.metadata.forEach((val, k) => {
            lines.push(`${k}: ${val}`);
          });
          const metadata = lines.join("\n");
          assert.ok(!leaks(err.message) && !leaks(metadata), `${name} leaked: ${err.message}`);
          assert.equal(err.details.length, 0, `${name}: no details`);
        }
      } finally {
        c.close();
      }
    });
  }

  it("a Connect JSON error body over HTTP/1.1 holds only code and message; the cause is logged", async () => {
    const token = await mintToken(secret, { subject: "u", rooms: ["*"] });
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        `${server.url}/switchboard.chat.v1.ChatService/Send`,
        {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d) => {
            text += d;
          });
          res.on("end", () => resolve(text));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ room: "r", text: "x" }));
    });
    assert.deepEqual(JSON.parse(body), { code: "internal", message: "internal error" });
    assert.ok(
      logged.some((e) => e instanceof Error && e.message.includes(secretPath)),
      "the original error is logged on the server",
    );
  });
});

describe("security: CORS", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { corsOrigins: ["https://app.example"] } });
  });
  after(() => server?.close());

  function request(
    method: string,
    origin: string,
    extra: Record<string, string> = {},
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${server.url}/switchboard.chat.v1.ChatService/History`,
        { method, headers: { origin, ...extra } },
        (res) => {
          res.resume();
          resolve(res);
        },
      );
      req.on("error", reject);
      req.end(method === "POST" ? "{}" : undefined);
    });
  }

  it("answers preflights and responses with CORS headers only for the configured origin", async () => {
    const preflight = { "access-control-request-method": "POST" };
    const ok = await request("OPTIONS", "https://app.example", preflight);
    assert.equal(ok.statusCode, 204);
    assert.equal(ok.headers["access-control-allow-origin"], "https://app.example");
    const evil = await request("OPTIONS", "https://evil.example", preflight);
    assert.equal(evil.statusCode, 403);
    assert.equal(evil.headers["access-control-allow-origin"], undefined);
    const actual = await request("POST", "https://evil.example", {
      "content-type": "application/json",
    });
    assert.equal(actual.headers["access-control-allow-origin"], undefined);
    assert.equal(actual.statusCode, 401, "and still needs a token");
  });
});

describe("security: data directory permissions", () => {
  it("`switchboard serve` creates the data directory 0700 and every file in it without group/other access", async () => {
    const parent = await mkdtemp(join(tmpdir(), "switchboard-perm-"));
    const dataDir = join(parent, "nested", "data");
    const cli = spawnCli(["serve", "--port", "0", "--data-dir", dataDir], {
      env: cliEnv(),
      timeoutMs: 30_000,
    });
    try {
      await cli.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cli.output.stdout)![1]!;
      const token = /^\s+(ey\S+)$/m.exec(cli.output.stdout)![1]!;
      const sb = createSwitchboardClient({ baseUrl: url, token });
      const file = await sb.upload({ name: "p.bin", room: "perm" }, [randomBytes(1000)]);
      await sb.send("perm", "hello", { attachmentFileIds: [file.id] });
      cli.child.kill("SIGTERM");
      assert.equal((await cli.exited).code, 0);
      assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
      const walk = async (dir: string): Promise<string[]> => {
        const out: string[] = [];
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          const p = join(dir, entry.name);
          out.push(p);
          if (entry.isDirectory()) out.push(...(await walk(p)));
        }
        return out;
      };
      const paths = await walk(dataDir);
      for (const name of ["jwt-secret", "switchboard.db", join("files", file.id)]) {
        assert.ok(paths.includes(join(dataDir, name)), `${name} exists`);
      }
      for (const p of paths) {
        const mode = (await stat(p)).mode & 0o777;
        assert.equal(mode & 0o077, 0, `${p} has mode ${mode.toString(8)}`);
      }
    } finally {
      if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
      await rm(parent, { recursive: true, force: true });
    }
  });
});
