/**
 * Heap snapshots of the idle-streams bench server: the compiled bench
 * server (bench/servers/switchboard.ts, memory backend) pinned to CPU 0, the
 * idle scenario's load process (bench/load/fanout-subscribers.ts) on CPU 1,
 * 100 warm-up Subscribe streams, snapshot `before`, `--streams` more idle
 * streams (one room each, 100 per HTTP/2 connection), snapshot `after`.
 * Compare them with
 * `node scripts/heap-diff.mjs DIR/before.heapsnapshot DIR/after.heapsnapshot --per N`.
 *
 *   node --import tsx bench/profile-idle-heap.ts [--streams 10000] [--out DIR (default .tmp/heap-idle)]
 *
 * Used for the idle-stream profile in bench/README.md.
 *
 * @module
 */
import { mkdirSync, readdirSync, renameSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { repoRoot, startServerProcess } from "./lib/proc.js";
import { startLoadChild } from "./load/fanout-child.js";

const { values: flags } = parseArgs({
  options: {
    streams: { type: "string", default: "10000" },
    out: { type: "string", default: ".tmp/heap-idle" },
  },
});
const streams = Number(flags.streams);
const warm = 100;
const out = resolve(flags.out);
mkdirSync(out, { recursive: true });

const child = startLoadChild(
  "idle-streams",
  "bench/load/fanout-subscribers.ts",
  {
    impl: "grpc",
    host: "127.0.0.1",
    room: "idle",
    rooms: warm + streams,
    subscribers: warm + streams,
    connections: Math.ceil((warm + streams) / 100),
    sampleEvery: 0,
  },
  1,
);
const server = await startServerProcess({
  name: "idle-heap",
  script: "bench/servers/switchboard.ts",
  args: ["--backend", "memory"],
  env: {
    SWITCHBOARD_MAX_STREAMS_PER_USER: String(2 * (warm + streams)),
    NODE_OPTIONS: "--heapsnapshot-signal=SIGUSR2",
  },
  cpu: 0,
});

/** Signals the server to write a snapshot (into its cwd) and moves it to `out/name.heapsnapshot` once written. */
async function snapshot(name: string): Promise<void> {
  const list = () => readdirSync(repoRoot).filter((f) => f.endsWith(".heapsnapshot"));
  const existing = new Set(list());
  process.kill(server.pid, "SIGUSR2");
  for (;;) {
    await sleep(1000);
    const file = list().find((f) => !existing.has(f));
    if (file === undefined) continue;
    // Written after the snapshot is taken: wait until its size stops changing.
    let size = -1;
    for (;;) {
      await sleep(2000);
      const now = statSync(join(repoRoot, file)).size;
      if (now > 0 && now === size) break;
      size = now;
    }
    renameSync(join(repoRoot, file), join(out, `${name}.heapsnapshot`));
    console.log(
      `${name}: ${join(out, `${name}.heapsnapshot`)} (${(size / 2 ** 20).toFixed(1)} MiB)`,
    );
    return;
  }
}

try {
  await child.request("open", { port: server.port, token: server.info.token, count: warm }, 60_000);
  await sleep(1500);
  await snapshot("before");
  await child.request("open", {}, 300_000);
  await sleep(1500);
  await snapshot("after");
} finally {
  await child.stop();
  await server.stop();
}
