/**
 * `switchboard tail` and `switchboard serve` as child processes: tail prints
 * what is sent after it started, and resumes by itself across a server
 * restart on the same data dir and port with no gap and no duplicate.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createSwitchboardClient } from "../src/client/index.js";
import { cliEnv, type LiveCli, spawnCli } from "./helpers/cli.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

/** Parses tail --json output lines. */
function jsonLines(stdout: string): { text: string; offset: string; room: string }[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { text: string; offset: string; room: string });
}

/** Starts `switchboard serve` on `port` and resolves with its URL and dev token. */
async function serve(
  dataDir: string,
  port: number,
): Promise<{ live: LiveCli; url: string; token: string }> {
  const live = spawnCli(
    ["serve", "--port", String(port), "--data-dir", dataDir, "--backend", "sqlite"],
    {
      timeoutMs: 60_000,
    },
  );
  await live.waitFor(/dev token[^\n]*\n\s+\S+\n/);
  const url = /listening on (http:\/\/\S+)/.exec(live.output.stdout)?.[1];
  const token = /dev token[^\n]*\n\s+(\S+)\n/.exec(live.output.stdout)?.[1];
  assert.ok(url && token, live.output.stdout);
  return { live, url, token };
}

describe("CLI tail", () => {
  let ts: TestServer;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    ts = await startTestServer({ backend: "sqlite" });
    const token = await ts.token({ subject: "ada", name: "Ada", rooms: ["*"] });
    env = cliEnv({ SWITCHBOARD_URL: ts.url, SWITCHBOARD_TOKEN: token });
  });
  after(() => ts?.close());

  it("prints messages sent after it started, in order, and exits 0 on SIGINT", async () => {
    const sb = createSwitchboardClient({ baseUrl: ts.url, token: env.SWITCHBOARD_TOKEN! });
    await sb.send("live", "old");
    const { headOffset } = await sb.history("live");
    // Start after the current head, so nothing sent before is printed.
    const tail = spawnCli(["tail", "live", "--from", String(headOffset)], { env });
    try {
      await sb.send("live", "one");
      await sb.send("live", "two");
      await tail.waitFor(/Ada: two\n/);
      tail.child.kill("SIGINT");
      const res = await tail.exited;
      assert.equal(res.code, 0, res.stderr);
      const lines = res.stdout.trim().split("\n");
      assert.equal(lines.length, 2);
      assert.match(lines[0]!, /^\[live #\d+ [\d:]+\] Ada: one$/);
      assert.match(lines[1]!, /Ada: two$/);
    } finally {
      tail.child.kill("SIGKILL");
    }
  });

  it("replays last:K then stops after --count messages", async () => {
    const sb = createSwitchboardClient({ baseUrl: ts.url, token: env.SWITCHBOARD_TOKEN! });
    for (const t of ["k1", "k2", "k3"]) await sb.send("lastk", t);
    const res = await spawnCli(["tail", "lastk", "--from", "last:2", "--count", "2", "--json"], {
      env,
    }).exited;
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(
      jsonLines(res.stdout).map((m) => m.text),
      ["k2", "k3"],
    );
  });
});

describe("CLI serve and tail across a server restart", () => {
  it("tail resumes after serve is restarted on the same data dir and port with no gap and no duplicate", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "switchboard-serve-"));
    const children: ChildProcess[] = [];
    try {
      const first = await serve(dataDir, 0);
      children.push(first.live.child);
      const port = Number(new URL(first.url).port);
      const env = cliEnv({ SWITCHBOARD_URL: first.url, SWITCHBOARD_TOKEN: first.token });
      const tail = spawnCli(["tail", "restart", "--from", "beginning", "--json"], {
        env,
        timeoutMs: 60_000,
      });
      children.push(tail.child);
      const sb = createSwitchboardClient({ baseUrl: first.url, token: first.token });
      for (const t of ["r1", "r2", "r3"]) await sb.send("restart", t);
      await tail.waitFor(/"r3"/);

      first.live.child.kill("SIGTERM");
      const stopped = await first.live.exited;
      assert.equal(stopped.code, 0, stopped.stderr);
      await tail.waitFor(/reconnecting in \d+ ms/);

      const second = await serve(dataDir, port);
      children.push(second.live.child);
      assert.equal(second.url, first.url);
      // The old token still works: the secret lives in the data dir.
      for (const t of ["r4", "r5", "r6"]) await sb.send("restart", t);
      await tail.waitFor(/"r6"/, 20_000);
      await tail.waitFor(/resumed restart/);

      tail.child.kill("SIGINT");
      const res = await tail.exited;
      assert.equal(res.code, 0, res.stderr);
      const messages = jsonLines(res.stdout);
      assert.deepEqual(
        messages.map((m) => m.text),
        ["r1", "r2", "r3", "r4", "r5", "r6"],
      );
      const offsets = messages.map((m) => BigInt(m.offset));
      for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! > offsets[i - 1]!);

      second.live.child.kill("SIGTERM");
      assert.equal((await second.live.exited).code, 0);
    } finally {
      for (const c of children) c.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
