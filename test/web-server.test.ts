/**
 * The server side of the browser app, over real sockets: static files from
 * web/dist (content types, caching, ETags, gzip, SPA fallback, no path
 * traversal) and the dev-only sign-in endpoint.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { verifyToken } from "../src/auth/tokens.js";
import { ConfigError } from "../src/server/config.js";
import { assertDevHostAllowed, devUserId, isLoopbackHost } from "../src/server/dev-sign-in.js";
import {
  contentSecurityPolicy,
  createWebAppHandler,
  immutableCacheControl,
  revalidateCacheControl,
} from "../src/server/web-app.js";
import { ensureWebBuilt } from "./helpers/browser.js";
import { cliEnv, spawnCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One raw HTTP/1.1 request: the path is sent byte for byte (no URL normalization). */
function raw(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const headers: Record<string, string> = {
      Host: `127.0.0.1:${port}`,
      Connection: "close",
      ...opts.headers,
    };
    if (opts.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(opts.body));
    socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")));
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("end", () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      const head = all.subarray(0, split).toString("latin1").split("\r\n");
      const status = Number(head[0]!.split(" ")[1]);
      const h: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(":");
        h[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      let body: Buffer = all.subarray(split + 4);
      if (h["transfer-encoding"] === "chunked") body = dechunk(body);
      resolve({ status, headers: h, body });
    });
    socket.write(
      `${opts.method ?? "GET"} ${path} HTTP/1.1\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n${opts.body ?? ""}`,
    );
  });
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = b.indexOf("\r\n", pos);
    const size = Number.parseInt(b.subarray(pos, eol).toString(), 16);
    if (!size) return Buffer.concat(out);
    out.push(b.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

describe("web app static files", () => {
  let dir: string;
  let server: Server;
  let port: number;
  const js = `console.log(${JSON.stringify("x".repeat(4000))});\n`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchboard-web-"));
    const root = join(dir, "dist");
    await mkdir(join(root, "assets"), { recursive: true });
    await writeFile(join(root, "index.html"), "<!doctype html><title>app</title>");
    await writeFile(join(root, "favicon.svg"), "<svg/>");
    await writeFile(join(root, "assets", "index-abc123.js"), js);
    await writeFile(join(root, "assets", "index-abc123.css"), "body{}");
    await writeFile(join(root, "assets", "blob.bin"), Buffer.from([1, 2, 3]));
    await writeFile(join(dir, "secret.txt"), "TOP-SECRET");
    const serve = createWebAppHandler({ root });
    server = createServer((req, res) => {
      void serve(req, res).then((handled) => {
        if (!handled) {
          res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
          res.end("not found\n");
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it("serves index.html at / as UTF-8 HTML that browsers always revalidate", async () => {
    const res = await raw(port, "/");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(res.headers["cache-control"], revalidateCacheControl);
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.equal(res.headers["content-security-policy"], contentSecurityPolicy);
    assert.equal(res.body.toString(), "<!doctype html><title>app</title>");
  });

  it("serves hashed assets with their content types as immutable, gzipped when accepted", async () => {
    const plain = await raw(port, "/assets/index-abc123.js");
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(plain.headers["cache-control"], immutableCacheControl);
    assert.equal(plain.body.toString(), js);
    const gz = await raw(port, "/assets/index-abc123.js", {
      headers: { "Accept-Encoding": "gzip, br" },
    });
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(gz.body).toString(), js);
    const css = await raw(port, "/assets/index-abc123.css");
    assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
    assert.equal(css.headers["content-encoding"], undefined, "small files are not compressed");
    assert.equal((await raw(port, "/favicon.svg")).headers["content-type"], "image/svg+xml");
    const bin = await raw(port, "/assets/blob.bin");
    assert.equal(bin.headers["content-type"], "application/octet-stream");
  });

  it("answers a matching If-None-Match with 304 and HEAD without a body", async () => {
    const first = await raw(port, "/assets/index-abc123.css");
    const etag = first.headers.etag as string;
    assert.match(etag, /^"[\w-]+"$/);
    const again = await raw(port, "/assets/index-abc123.css", {
      headers: { "If-None-Match": etag },
    });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const head = await raw(port, "/", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  it("falls back to index.html for navigations, but not for missing files or assets", async () => {
    const nav = await raw(port, "/rooms/general?x=1", { headers: { Accept: "text/html,*/*" } });
    assert.equal(nav.status, 200);
    assert.equal(nav.body.toString(), "<!doctype html><title>app</title>");
    assert.equal(
      (await raw(port, "/rooms/general", { headers: { Accept: "application/json" } })).status,
      404,
    );
    assert.equal(
      (await raw(port, "/missing.js", { headers: { Accept: "text/html" } })).status,
      404,
    );
    assert.equal(
      (await raw(port, "/assets/gone", { headers: { Accept: "text/html" } })).status,
      404,
    );
    assert.equal((await raw(port, "/", { method: "POST", body: "" })).status, 404);
  });

  it("never serves a file outside its root, however the path is spelled", async () => {
    for (const path of [
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/..%5csecret.txt",
      "/..\\secret.txt",
      "/%00/../secret.txt",
      "/%E0%A4%A/secret.txt",
      "//secret.txt",
    ]) {
      const res = await raw(port, path, { headers: { Accept: "text/html" } });
      assert.ok(!res.body.toString().includes("TOP-SECRET"), `${path} leaked the file`);
      assert.ok(res.status === 404 || res.status === 200, `${path}: ${res.status}`);
      if (res.status === 200)
        assert.equal(res.body.toString(), "<!doctype html><title>app</title>");
    }
  });

  it("explains how to build the app when web/dist is missing", async () => {
    const serve = createWebAppHandler({ root: join(dir, "nowhere") });
    const s = createServer((req, res) => void serve(req, res));
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    try {
      const res = await raw((s.address() as { port: number }).port, "/");
      assert.equal(res.status, 404);
      assert.match(res.body.toString(), /npm run build:web/);
    } finally {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
});

describe("switchboard server with the browser app", () => {
  let plain: TestServer;
  let dev: TestServer;
  before(async () => {
    await ensureWebBuilt();
    plain = await startTestServer();
    dev = await startTestServer({ config: { dev: true } });
  });
  after(async () => {
    await plain?.close();
    await dev?.close();
  });

  it("serves the built app at / and its assets next to the API on the one port", async () => {
    const page = await raw(plain.port, "/", { headers: { Accept: "text/html" } });
    assert.equal(page.status, 200);
    assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.body.toString())?.[1];
    assert.ok(script, "index.html references a bundled script");
    const js = await raw(plain.port, script);
    assert.equal(js.status, 200);
    assert.equal(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(js.headers["cache-control"], immutableCacheControl);
    const token = await plain.token({ subject: "ada", rooms: ["*"] });
    const api = await raw(plain.port, "/switchboard.chat.v1.ChatService/History", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ room: "general" }),
    });
    assert.equal(api.status, 200, api.body.toString());
    const unknown = await raw(plain.port, "/switchboard.chat.v1.ChatService/Nope", {
      method: "POST",
      body: "",
    });
    assert.equal(unknown.status, 404);
  });

  it("has no dev sign-in endpoint without --dev", async () => {
    const get = await raw(plain.port, "/dev/sign-in", { headers: { Accept: "application/json" } });
    assert.equal(get.status, 404);
    const post = await raw(plain.port, "/dev/sign-in", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Mallory" }),
    });
    assert.equal(post.status, 404);
    assert.ok(!post.body.toString().includes("token"));
  });

  it("with --dev mints a 24 h token for a chosen name that works for every room", async () => {
    const get = await raw(dev.port, "/dev/sign-in", { headers: { Accept: "application/json" } });
    assert.equal(get.status, 200);
    assert.deepEqual(JSON.parse(get.body.toString()), { enabled: true });
    const res = await raw(dev.port, "/dev/sign-in", {
      method: "POST",
      headers: { "Content-Type": "application/json", Origin: `http://127.0.0.1:${dev.port}` },
      body: JSON.stringify({ name: "  Ada Lovelace " }),
    });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers["cache-control"], "no-store");
    const body = JSON.parse(res.body.toString()) as { token: string; user: unknown };
    assert.deepEqual(body.user, { id: "ada-lovelace", name: "Ada Lovelace" });
    const user = await verifyToken(dev.server.secret, body.token);
    assert.equal(user.id, "ada-lovelace");
    assert.equal(user.name, "Ada Lovelace");
    assert.deepEqual([user.publish, user.subscribe], [["*"], ["*"]]);
    const send = await raw(dev.port, "/switchboard.chat.v1.ChatService/Send", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${body.token}` },
      body: JSON.stringify({ room: "any-room-at-all", text: "hi" }),
    });
    assert.equal(send.status, 200, send.body.toString());
  });

  it("dev sign-in rejects bad names, non-JSON bodies, foreign hosts and cross-site origins", async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      raw(dev.port, "/dev/sign-in", {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body,
      });
    assert.equal((await post(JSON.stringify({ name: "" }))).status, 400);
    assert.equal((await post(JSON.stringify({ name: "x".repeat(40) }))).status, 400);
    assert.equal((await post(JSON.stringify({ name: "<script>" }))).status, 400);
    assert.equal((await post("{not json")).status, 400);
    const form = await post("name=Eve", { "Content-Type": "application/x-www-form-urlencoded" });
    assert.equal(form.status, 415);
    const rebinding = await post(JSON.stringify({ name: "Eve" }), { Host: "evil.example:80" });
    assert.equal(rebinding.status, 403);
    const crossSite = await post(JSON.stringify({ name: "Eve" }), {
      Origin: "https://evil.example",
    });
    assert.equal(crossSite.status, 403);
    const put = await raw(dev.port, "/dev/sign-in", { method: "PUT", body: "" });
    assert.equal(put.status, 405);
  });

  it("dev sign-in derives ids from names and knows loopback hosts", () => {
    assert.equal(devUserId("Ada Lovelace"), "ada-lovelace");
    assert.equal(devUserId("  Zoë_B.  "), "zoë_b.");
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "app.localhost"]) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", "127.0.0.1.evil.com"]) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });

  it("refuses dev mode on a non-loopback host unless remote dev is allowed", async () => {
    assert.throws(
      () => assertDevHostAllowed({ host: "0.0.0.0", dev: true }),
      (e: unknown) => e instanceof ConfigError && /--dev-allow-remote/.test(e.message),
    );
    assert.doesNotThrow(() =>
      assertDevHostAllowed({ host: "0.0.0.0", dev: true, devAllowRemote: true }),
    );
    assert.doesNotThrow(() => assertDevHostAllowed({ host: "0.0.0.0", dev: false }));
    assert.doesNotThrow(() => assertDevHostAllowed({ host: "::1", dev: true }));
    const dataDir = await mkdtemp(join(tmpdir(), "switchboard-web-dev-"));
    try {
      const cli = spawnCli(
        ["serve", "--dev", "--host", "0.0.0.0", "--port", "0", "--backend", "memory"],
        {
          env: cliEnv({ SWITCHBOARD_DATA_DIR: dataDir }),
        },
      );
      const run = await cli.exited;
      assert.equal(run.code, 2, run.stdout + run.stderr);
      assert.match(run.stderr, /--dev-allow-remote/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("`switchboard serve --dev` prints the browser app's URL", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "switchboard-web-serve-"));
    const cli = spawnCli(["serve", "--dev", "--port", "0", "--backend", "memory"], {
      env: cliEnv({ SWITCHBOARD_DATA_DIR: dataDir }),
    });
    try {
      await cli.waitFor(/open the browser app: http:\/\/127\.0\.0\.1:\d+\/ \(dev sign-in/);
      const port = Number(/127\.0\.0\.1:(\d+)\//.exec(cli.output.stdout)?.[1]);
      const page = await raw(port, "/", { headers: { Accept: "text/html" } });
      assert.equal(page.status, 200);
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
