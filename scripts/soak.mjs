#!/usr/bin/env node
// Soak test: runs `switchboard serve` (sqlite, loopback, fresh temp data dir)
// as a child process and drives it with N SDK clients for M minutes — a mix of
// Send, History, Upload (+ Download check) and one live subscription per
// client. Reports errors (must be 0), the server's RSS over time and latency
// percentiles per operation; exits 1 on any error.
//
//   npm run soak -- --clients 8 --minutes 1
//
// Every subscriber must receive every message sent to its room exactly once,
// in order; the server must drain and exit 0 on SIGTERM at the end.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { mintToken } from "../src/auth/tokens.ts";
import { createSwitchboardClient } from "../src/client/index.ts";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "8" },
    minutes: { type: "string", default: "1" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: npm run soak -- [--clients N (1-200, default 8)] [--minutes M (0.1-60, default 1)]",
  );
  process.exit(0);
}
const clients = Number(values.clients);
const minutes = Number(values.minutes);
if (!Number.isInteger(clients) || clients < 1 || clients > 200) {
  console.error("--clients: must be an integer 1-200");
  process.exit(2);
}
if (!(minutes >= 0.1 && minutes <= 60)) {
  console.error("--minutes: must be 0.1-60");
  process.exit(2);
}

const root = new URL("..", import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), "switchboard-soak-"));
const secret = randomBytes(32).toString("hex");
const server = spawn(
  process.execPath,
  [
    join(root, "bin/switchboard.js"),
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--backend",
    "sqlite",
    "--data-dir",
    dataDir,
    "--jwt-secret",
    secret,
    "--shutdown-grace-ms",
    "5000",
  ],
  { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SWITCHBOARD_DEV: "" } },
);
let serverOut = "";
server.stdout.on("data", (d) => {
  serverOut += d;
});
server.stderr.on("data", (d) => {
  serverOut += d;
});
const cleanup = () => {
  if (server.exitCode === null) server.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
};
process.on("exit", cleanup);

const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`server did not start:\n${serverOut}`)), 30_000);
  const check = () => {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serverOut);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  };
  server.stdout.on("data", check);
  server.once("exit", (code) => reject(new Error(`server exited ${code}:\n${serverOut}`)));
});

const rssMiB = () => {
  try {
    const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};

const key = new TextEncoder().encode(secret);
const rooms = Math.max(1, Math.ceil(clients / 4));
const errors = [];
const latencies = { send: [], history: [], upload: [], download: [] };
const sentByRoom = new Map();
const started = Date.now();
const endAt = started + minutes * 60_000;
const rss = [{ t: 0, mib: rssMiB() }];
const sampler = setInterval(
  () => rss.push({ t: Math.round((Date.now() - started) / 1000), mib: rssMiB() }),
  Math.max(1_000, (minutes * 60_000) / 12),
);

async function timed(kind, fn) {
  const t0 = performance.now();
  try {
    return await fn();
  } catch (err) {
    errors.push(`${kind}: ${err?.message ?? err}`);
    return undefined;
  } finally {
    latencies[kind].push(performance.now() - t0);
  }
}

const subscribers = [];
const workers = [];
for (let i = 0; i < clients; i++) {
  const token = await mintToken(key, { subject: `soak-${i}`, rooms: ["soak-*"] });
  const sb = createSwitchboardClient({ baseUrl: url, token });
  const room = `soak-${i % rooms}`;
  const stop = new AbortController();
  const got = [];
  const ready = { resolve: () => {} };
  const readyPromise = new Promise((r) => {
    ready.resolve = r;
  });
  const done = (async () => {
    try {
      for await (const ev of sb.subscribe([{ room }], { signal: stop.signal })) {
        if (ev.type === "state") ready.resolve();
        if (ev.type === "message") got.push(ev.message.offset);
      }
    } catch (err) {
      errors.push(`subscribe ${room}: ${err?.message ?? err}`);
      ready.resolve();
    }
  })();
  await readyPromise;
  subscribers.push({ room, got, stop, done });
  workers.push(async () => {
    let n = 0;
    while (Date.now() < endAt) {
      const pick = Math.random();
      const target = `soak-${Math.floor(Math.random() * rooms)}`;
      if (pick < 0.7) {
        const res = await timed("send", () => sb.send(target, `c${i} #${n++}`));
        if (res?.message) {
          const list = sentByRoom.get(target) ?? [];
          list.push(res.message.offset);
          sentByRoom.set(target, list);
        }
      } else if (pick < 0.9) {
        await timed("history", () => sb.history(target, { limit: 50 }));
      } else {
        const bytes = randomBytes(64 * 1024);
        const file = await timed("upload", () =>
          sb.upload({ name: `c${i}.bin`, room: target, size: bytes.length }, [bytes]),
        );
        if (file) {
          const hash = createHash("sha256");
          await timed("download", () => sb.download(file.id, (chunk) => hash.update(chunk)));
          if (hash.digest("hex") !== file.sha256)
            errors.push(`download ${file.id}: sha256 mismatch`);
        }
      }
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
  });
}

console.log(
  `soak: ${clients} clients, ${minutes} min, ${rooms} rooms, server ${url} (pid ${server.pid})`,
);
await Promise.all(workers.map((w) => w()));

// Every subscriber must have every message of its room, once, in order.
const settleUntil = Date.now() + 15_000;
for (const s of subscribers) {
  const want = [...(sentByRoom.get(s.room) ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  while (s.got.length < want.length && Date.now() < settleUntil) {
    await new Promise((r) => setTimeout(r, 50));
  }
  s.stop.abort();
  await s.done;
  if (s.got.length !== want.length || s.got.some((o, k) => o !== want[k])) {
    errors.push(
      `subscriber of ${s.room}: got ${s.got.length} messages, want ${want.length} in order`,
    );
  }
}
clearInterval(sampler);
rss.push({ t: Math.round((Date.now() - started) / 1000), mib: rssMiB() });

const stopAt = Date.now();
server.kill("SIGTERM");
const exitCode = await new Promise((resolve) => server.once("exit", (code) => resolve(code)));
const drainMs = Date.now() - stopAt;
if (exitCode !== 0) errors.push(`server exited with ${exitCode} after SIGTERM`);

const pct = (list, p) => {
  if (list.length === 0) return 0;
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
};
console.log("\nlatency (ms)     count     p50     p99     max");
for (const [kind, list] of Object.entries(latencies)) {
  console.log(
    `  ${kind.padEnd(12)} ${String(list.length).padStart(7)} ${pct(list, 0.5).toFixed(1).padStart(7)} ${pct(list, 0.99).toFixed(1).padStart(7)} ${pct(list, 1).toFixed(1).padStart(7)}`,
  );
}
const delivered = subscribers.reduce((sum, s) => sum + s.got.length, 0);
console.log(`\nmessages delivered to subscribers: ${delivered}`);
console.log(
  `server RSS (MiB) over time: ${rss.map((r) => `${r.t}s=${r.mib.toFixed(0)}`).join(" ")}`,
);
console.log(`server drained and exited ${exitCode} ${drainMs} ms after SIGTERM`);
console.log(`errors: ${errors.length}`);
for (const e of errors.slice(0, 20)) console.log(`  ${e}`);
process.exitCode = errors.length === 0 ? 0 : 1;
