/**
 * The `switchboard` CLI as a user runs it: `node bin/switchboard.js …` child
 * processes against a real sqlite server.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createSwitchboardClient } from "../src/client/index.js";
import { type CliRun, cliEnv, spawnCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

/** Runs the CLI to completion with optional stdin. */
async function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  const live = spawnCli(args, opts);
  live.child.stdin!.end(opts.input ?? "");
  return live.exited;
}

describe("CLI commands against a sqlite server", () => {
  let ts: TestServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    ts = await startTestServer({ backend: "sqlite" });
    dir = await mkdtemp(join(tmpdir(), "switchboard-cli-"));
    const token = await ts.token({ subject: "ada", name: "Ada", rooms: ["*"] });
    env = cliEnv({ SWITCHBOARD_URL: ts.url, SWITCHBOARD_TOKEN: token });
  });
  after(async () => {
    await ts?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("mints a token from the server's data dir that send accepts, limited to its rooms", async () => {
    const minted = await runCli([
      "token",
      "--user",
      "alice",
      "--name",
      "Alice",
      "--rooms",
      "team-*",
      "--data-dir",
      ts.dataDir,
    ]);
    assert.equal(minted.code, 0, minted.stderr);
    const token = minted.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);

    const sent = await runCli([
      "send",
      "team-a",
      "hello team",
      "--server",
      ts.url,
      "--token",
      token,
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /^sent to team-a at offset \d+, id \S+\n$/);

    const page = await createSwitchboardClient({ baseUrl: ts.url, token }).history("team-a");
    assert.deepEqual(
      page.messages.map((m) => [m.sender?.id, m.sender?.displayName, m.text]),
      [["alice", "Alice", "hello team"]],
    );

    const denied = await runCli(["send", "ops", "nope", "--server", ts.url, "--token", token]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^error: permission_denied: .*ops/m);
    assert.equal(denied.stderr.trim().split("\n").length, 1);
  });

  it("refuses to mint a token without a secret, with exit code 1 and one clear line", async () => {
    const res = await runCli(["token", "--user", "x", "--data-dir", join(dir, "missing")]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^error: no JWT secret: .*jwt-secret does not exist/);
    assert.equal(res.stdout, "");
  });

  it("prints history pages with --limit and --before/--after, as text and JSON", async () => {
    for (let i = 1; i <= 5; i++) {
      const r = await runCli(["send", "hist", `h${i}`], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    const newest = await runCli(["history", "hist", "--limit", "2"], { env });
    assert.equal(newest.code, 0, newest.stderr);
    const lines = newest.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^\[hist #\d+ \d\d:\d\d:\d\d\] Ada: h4$/);
    assert.match(lines[1]!, /Ada: h5$/);
    const more = /--before (\d+)/.exec(newest.stderr);
    assert.ok(more, newest.stderr);

    const older = await runCli(["history", "hist", "--before", more[1]!, "--json"], { env });
    assert.equal(older.code, 0, older.stderr);
    const msgs = older.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { text: string; offset: string });
    assert.deepEqual(
      msgs.map((m) => m.text),
      ["h1", "h2", "h3"],
    );
    const newer = await runCli(["history", "hist", "--after", msgs[2]!.offset, "--json"], { env });
    assert.deepEqual(
      newer.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { text: string }).text),
      ["h4", "h5"],
    );
  });

  it("uploads and downloads a 5 MiB random file with the same sha256, and attaches files to a send", async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const sha256 = createHash("sha256").update(data).digest("hex");
    const src = join(dir, "random.bin");
    await writeFile(src, data);

    const up = await runCli(["upload", src, "--room", "files"], { env, timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`^sha256: ${sha256}$`, "m"));
    assert.match(up.stdout, new RegExp(`^size: ${data.length} `, "m"));
    const id = /^id: (\S+)$/m.exec(up.stdout)?.[1];
    assert.ok(id, up.stdout);

    const out = join(dir, "copy.bin");
    const down = await runCli(["download", id, "-o", out], { env, timeoutMs: 60_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`^sha256: ${sha256}$`, "m"));
    assert.ok((await readFile(out)).equals(data));

    // Without -o the file's own name is used, in the working directory.
    const cwd = await mkdtemp(join(dir, "dl-"));
    const named = await runCli(["download", id], { env, cwd, timeoutMs: 60_000 });
    assert.equal(named.code, 0, named.stderr);
    assert.ok((await readFile(join(cwd, "random.bin"))).equals(data));

    const note = join(dir, "note.txt");
    await writeFile(note, "a small note");
    const sent = await runCli(["send", "files", "see attached", "--file", note, "--json"], { env });
    assert.equal(sent.code, 0, sent.stderr);
    const message = JSON.parse(sent.stdout) as {
      text: string;
      attachments: { name: string; contentType: string; size: string }[];
    };
    assert.equal(message.text, "see attached");
    assert.deepEqual(
      message.attachments.map((a) => [a.name, a.contentType, a.size]),
      [["note.txt", "text/plain", "12"]],
    );
  });

  it("fails a download of an unknown file id with not_found and exit code 1", async () => {
    const res = await runCli(["download", "no-such-file", "-o", join(dir, "x")], { env });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^error: not_found: /);
  });

  it("chat sends stdin lines, prints the joined room and incoming messages, and quits on /quit", async () => {
    const chat = spawnCli(["chat", "lobby"], { env, timeoutMs: 30_000 });
    try {
      await chat.waitFor(/\* joined lobby \(here: Ada\)/);
      const bob = createSwitchboardClient({
        baseUrl: ts.url,
        token: await ts.token({ subject: "bob", name: "Bob", rooms: ["lobby"] }),
      });
      await bob.send("lobby", "hi from bob");
      await chat.waitFor(/Bob: hi from bob/);
      chat.child.stdin!.write("hello from chat\n");
      await chat.waitFor(/Ada: hello from chat/);
      chat.child.stdin!.write("/quit\n");
      const res = await chat.exited;
      assert.equal(res.code, 0, res.stderr);
      const page = await bob.history("lobby");
      assert.deepEqual(
        page.messages.map((m) => m.text),
        ["hi from bob", "hello from chat"],
      );
    } finally {
      chat.child.kill("SIGKILL");
    }
  });

  it("works over the connect and grpc-web protocols too (chat on HTTP/2, the rest on HTTP/1.1)", async () => {
    for (const protocol of ["connect", "grpc-web"]) {
      const chat = await runCli(["chat", "multi", "--protocol", protocol], {
        env,
        input: `via ${protocol}\n`,
      });
      assert.equal(chat.code, 0, chat.stderr);
      const tail = await runCli(
        ["tail", "multi", "--from", "last:1", "--count", "1", "--protocol", protocol],
        { env },
      );
      assert.equal(tail.code, 0, tail.stderr);
      assert.match(tail.stdout, new RegExp(`Ada: via ${protocol}\\n$`));
      const history = await runCli(["history", "multi", "--protocol", protocol], { env });
      assert.match(history.stdout, new RegExp(`Ada: via ${protocol}\\n$`));
    }
    const forced = await runCli(
      ["chat", "multi", "--protocol", "connect", "--http-version", "1.1"],
      {
        env,
      },
    );
    assert.equal(forced.code, 2);
    assert.match(forced.stderr, /needs HTTP\/2/);
  });

  it("chat reports a forbidden send on stderr and goes on until stdin ends", async () => {
    const token = await ts.token({ subject: "carol", subscribe: ["news"] });
    const res = await runCli(["chat", "news", "--token", token, "--server", ts.url], {
      input: "may I?\n",
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /\* joined news/);
    assert.match(res.stderr, /^error: permission_denied: /m);
  });
});

describe("CLI usage and errors", () => {
  it("exits 1 with one clear line when no token is given", async () => {
    const res = await runCli(["send", "room", "text", "--server", "http://127.0.0.1:9"]);
    assert.equal(res.code, 1);
    assert.equal(
      res.stderr,
      "error: no token: pass --token or set SWITCHBOARD_TOKEN (mint one with 'switchboard token --user <name>')\n",
    );
  });

  it("exits 2 on an unknown flag, a missing argument, a bad value and an unknown command", async () => {
    const cases: [string[], RegExp][] = [
      [["send", "room", "text", "--bogus"], /^error: Unknown option '--bogus'/],
      [["send", "room"], /^error: missing argument <text>/],
      [["tail", "room", "--from", "sideways", "--token", "t"], /^error: --from: must be/],
      [
        ["history", "room", "--limit", "many", "--token", "t"],
        /^error: --limit: must be an integer/,
      ],
      [["token", "--user", "x", "--ttl", "soon"], /^error: --ttl: must be a duration/],
      [["frobnicate"], /^error: unknown command "frobnicate"/],
    ];
    for (const [args, pattern] of cases) {
      const res = await runCli(args);
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
      assert.match(res.stderr, pattern);
      assert.match(res.stderr, /run 'switchboard .*--help' for usage/);
    }
  });

  it("prints help for the CLI and for each command with exit code 0", async () => {
    const top = await runCli(["--help"]);
    assert.equal(top.code, 0);
    for (const name of [
      "serve",
      "token",
      "send",
      "tail",
      "chat",
      "history",
      "upload",
      "download",
    ]) {
      assert.match(top.stdout, new RegExp(`^  ${name} `, "m"));
      const res = await runCli([name, "--help"]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`^Usage: switchboard ${name}`));
      assert.match(res.stdout, /--server <url>/);
    }
  });

  it("reports an unreachable server as unavailable with exit code 1", async () => {
    const res = await runCli(["history", "room", "--server", "http://127.0.0.1:9", "--token", "t"]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^error: unavailable: .*ECONNREFUSED/m);
  });
});
