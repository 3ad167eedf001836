#!/usr/bin/env node
// `npm run cluster [-- --nodes 3 --port 8080]`: a Switchboard cluster on this
// machine, for trying cluster mode.
//
//   1. NATS: uses the nats-server on 127.0.0.1:4222 when it answers with
//      JetStream on (or the one given with --nats), else starts
//      `nats-server -js` on a free port with its store in a temp dir.
//   2. N nodes: `switchboard serve --nats … --port <port+i>`, each with its
//      own data dir under --data-dir (default ./data/cluster), all with the
//      cluster's JWT secret (generated once into <data-dir>/jwt-secret and
//      copied to every node's data dir).
//   3. HAProxy from deploy/haproxy.cfg (one `server` line per node) on --port.
//
// It waits until HAProxy reports every node healthy, then prints the
// balancer URL, a dev token and commands to try. Ctrl-C (SIGINT) or SIGTERM
// stops every child and exits 0. A child that dies during start-up stops the
// rest and exits 1; so does HAProxy or the NATS server started here dying
// later. A node dying later (try `kill -9` on one) is only reported: the
// balancer routes around it.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = new URL("..", import.meta.url).pathname;
const switchboardBin = join(root, "bin", "switchboard.js");
const template = join(root, "deploy", "haproxy.cfg");

const usage = `Usage: npm run cluster -- [--nodes N] [--port P] [--host H] [--nats URL] [--data-dir DIR]

  --nodes N        Switchboard nodes (default 3)
  --port P         balancer port (default 8080); nodes listen on P+1 … P+N
  --host H         interface of the balancer (default 127.0.0.1); nodes stay on 127.0.0.1
  --nats URL       NATS to use (default: 127.0.0.1:4222 if it runs with JetStream, else one
                   started here)
  --data-dir DIR   cluster data: secret, node dirs, logs, haproxy.cfg (default ./data/cluster)`;

let args;
try {
  args = parseArgs({
    options: {
      nodes: { type: "string", default: "3" },
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      nats: { type: "string" },
      "data-dir": { type: "string", default: join("data", "cluster") },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }).values;
} catch (err) {
  console.error(`error: ${err.message}\n\n${usage}`);
  process.exit(2);
}
if (args.help) {
  console.log(usage);
  process.exit(0);
}
const nodeCount = Number(args.nodes);
const lbPort = Number(args.port);
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 16) {
  console.error(`error: --nodes: must be 1-16, got "${args.nodes}"`);
  process.exit(2);
}
if (!Number.isInteger(lbPort) || lbPort < 1 || lbPort + nodeCount > 65_535) {
  console.error(`error: --port: must leave room for ${nodeCount} node ports, got "${args.port}"`);
  process.exit(2);
}
const dataDir = resolve(args["data-dir"]);

/** @type {{ name: string; child: import("node:child_process").ChildProcess; log: string; essential: boolean }[]} */
const children = [];
const cleanups = [];
let phase = "starting"; // → "running" → "stopping"

function findBinary(name) {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin"]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} not found: install it (Debian: apt-get install ${name})`);
}

function freePort() {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => done(port));
    });
  });
}

/** Reads the INFO line of a NATS server; undefined when nothing answers. */
function natsInfo(host, port) {
  return new Promise((done) => {
    const socket = connect({ host, port });
    let data = "";
    const finish = (info) => {
      clearTimeout(timer);
      socket.destroy();
      done(info);
    };
    const timer = setTimeout(() => finish(undefined), 1500);
    socket.setEncoding("utf8");
    socket.on("data", (d) => {
      data += d;
      const line = /^INFO (\{.*\})\s*\n/.exec(data);
      if (line) {
        try {
          finish(JSON.parse(line[1]));
        } catch {
          finish(undefined);
        }
      }
    });
    socket.on("error", () => finish(undefined));
  });
}

function start(name, cmd, argv, { env = process.env, logFile, essential = true } = {}) {
  const child = spawn(cmd, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  const entry = { name, child, log: "", essential };
  const file = logFile ? createWriteStream(logFile, { flags: "a" }) : undefined;
  const onData = (d) => {
    entry.log = (entry.log + d).slice(-8192);
    file?.write(d);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  child.on("error", (err) => onData(`${err.message}\n`));
  child.on("exit", (code, signal) => {
    file?.end();
    if (phase === "stopping") return;
    const how = signal ?? `code ${code}`;
    if (phase === "starting" || entry.essential) {
      console.error(`\n${name} exited (${how}) ${phase === "starting" ? "during start-up" : ""}`);
      console.error(entry.log.trim().split("\n").slice(-20).join("\n"));
      void stopAll(1);
    } else {
      console.error(`\n${name} exited (${how}); the balancer takes it out of rotation.`);
    }
  });
  children.push(entry);
  return entry;
}

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopAll(code) {
  if (phase === "stopping") return;
  phase = "stopping";
  const alive = children.filter((c) => !exited(c.child));
  const gone = Promise.all(
    alive.map(
      (c) => new Promise((done) => (exited(c.child) ? done() : c.child.once("exit", done))),
    ),
  );
  for (const c of alive) c.child.kill("SIGTERM");
  const timer = setTimeout(() => {
    for (const c of alive) if (!exited(c.child)) c.child.kill("SIGKILL");
  }, 8000);
  await gone;
  clearTimeout(timer);
  for (const fn of cleanups) fn();
  process.exit(code);
}

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (phase === "stopping") await new Promise(() => {}); // stopAll exits
    try {
      const result = await check();
      if (result) return result;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `${what}: not ready within ${timeoutMs / 1000}s${last ? ` (${last.message})` : ""}`,
  );
}

function renderHaproxyConfig(nodes, statsBind) {
  const text = readFileSync(template, "utf8");
  // Every "# nodes:begin … # nodes:end" block (one per backend) gets the node list.
  const block = /^([ \t]*)# nodes:begin\n[\s\S]*?^[ \t]*# nodes:end\n/gm;
  const indent = /^([ \t]*)# nodes:begin$/m.exec(text)?.[1];
  if (indent === undefined)
    throw new Error(`${template}: no "# nodes:begin" … "# nodes:end" block`);
  const servers = nodes.map((addr, i) => `${indent}server node${i + 1} ${addr}\n`).join("");
  return (
    text.replace(block, `${indent}# nodes:begin\n${servers}${indent}# nodes:end\n`) +
    `\nlisten stats\n    bind ${statsBind}\n    stats enable\n    stats uri /\n    stats refresh 5s\n`
  );
}

async function balancerStatus(statsUrl) {
  const res = await fetch(`${statsUrl}/;csv`, { signal: AbortSignal.timeout(2000) });
  const [header, ...rows] = (await res.text()).trim().split("\n");
  const cols = header.replace(/^# /, "").split(",");
  return rows
    .map((r) => r.split(","))
    .filter((f) => f[cols.indexOf("pxname")] === "switchboard_nodes")
    .filter((f) => /^node\d+$/.test(f[cols.indexOf("svname")]))
    .map((f) => ({ name: f[cols.indexOf("svname")], status: f[cols.indexOf("status")] }));
}

async function main() {
  process.on("SIGINT", () => {
    console.error("\nstopping the cluster …");
    void stopAll(0);
  });
  process.on("SIGTERM", () => void stopAll(0));

  const haproxy = findBinary("haproxy");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  // 1. NATS
  let natsUrl = args.nats;
  let natsNote = "given with --nats";
  if (natsUrl === undefined) {
    const info = await natsInfo("127.0.0.1", 4222);
    if (info?.jetstream) {
      natsUrl = "nats://127.0.0.1:4222";
      natsNote = "already running";
    } else {
      if (info) console.error("127.0.0.1:4222 runs NATS without JetStream; starting another one");
      const natsServer = findBinary("nats-server");
      const port = await freePort();
      const store = mkdtempSync(join(tmpdir(), "switchboard-cluster-nats-"));
      cleanups.push(() => rmSync(store, { recursive: true, force: true }));
      start(
        "nats-server",
        natsServer,
        ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store],
        {
          logFile: join(dataDir, "nats-server.log"),
        },
      );
      natsUrl = `nats://127.0.0.1:${port}`;
      natsNote = `started here, store ${store} (removed on exit)`;
      await waitFor(
        "nats-server",
        async () => (await natsInfo("127.0.0.1", port))?.jetstream,
        20_000,
      );
    }
  }

  // 2. Nodes sharing one secret.
  const secretFile = join(dataDir, "jwt-secret");
  if (!existsSync(secretFile)) {
    writeFileSync(secretFile, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  }
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("SWITCHBOARD_")) delete env[key];
  const nodes = [];
  for (let i = 1; i <= nodeCount; i++) {
    const name = `node${i}`;
    const dir = join(dataDir, name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    copyFileSync(secretFile, join(dir, "jwt-secret"));
    chmodSync(join(dir, "jwt-secret"), 0o600);
    const port = lbPort + i;
    const entry = start(
      name,
      process.execPath,
      [switchboardBin, "serve", "--port", String(port), "--data-dir", dir, "--nats", natsUrl],
      { env, logFile: join(dataDir, `${name}.log`), essential: false },
    );
    nodes.push({ name, port, entry });
  }
  await Promise.all(
    nodes.map((n) =>
      waitFor(n.name, () => n.entry.log.includes("switchboard listening on"), 120_000),
    ),
  );

  // 3. HAProxy
  const statsPort = await freePort();
  const cfg = join(dataDir, "haproxy.cfg");
  writeFileSync(
    cfg,
    renderHaproxyConfig(
      nodes.map((n) => `127.0.0.1:${n.port}`),
      `127.0.0.1:${statsPort}`,
    ),
  );
  start("haproxy", haproxy, ["-db", "-f", cfg], {
    env: {
      ...env,
      SWITCHBOARD_LB_BIND: `${args.host}:${lbPort}`,
      SWITCHBOARD_LB_CHECK_INTERVAL: "1s",
    },
    logFile: join(dataDir, "haproxy.log"),
  });
  const statsUrl = `http://127.0.0.1:${statsPort}`;
  await waitFor(
    "haproxy",
    async () =>
      (await balancerStatus(statsUrl)).filter((s) => s.status === "UP").length === nodeCount,
    30_000,
  );

  const token = spawnSync(
    process.execPath,
    [
      switchboardBin,
      "token",
      "--data-dir",
      dataDir,
      "--user",
      "dev",
      "--name",
      "Developer",
      "--rooms",
      "*",
    ],
    { env, encoding: "utf8" },
  );
  if (token.status !== 0) throw new Error(`switchboard token failed: ${token.stderr}`);
  const url = `http://${args.host === "0.0.0.0" || args.host === "::" ? "127.0.0.1" : args.host}:${lbPort}`;
  const rel = relative(process.cwd(), dataDir) || ".";
  phase = "running";
  console.log(
    [
      `Switchboard cluster: ${nodeCount} node${nodeCount > 1 ? "s" : ""} behind HAProxy, NATS JetStream`,
      `  balancer  ${url}  (gRPC h2c, Connect, gRPC-Web; every call balanced on its own)`,
      ...nodes.map((n) => `  ${n.name}     http://127.0.0.1:${n.port}  pid ${n.entry.child.pid}`),
      `  NATS      ${natsUrl}  (${natsNote})`,
      `  stats     ${statsUrl}/`,
      `  logs      ${rel}/*.log`,
      "",
      `dev token (subject "dev", all rooms, valid 24h):`,
      `  ${token.stdout.trim()}`,
      "",
      "try, in another terminal:",
      `  export SWITCHBOARD_URL=${url} SWITCHBOARD_TOKEN=${token.stdout.trim()}`,
      "  npx switchboard tail lobby --from beginning &",
      '  npx switchboard send lobby "hello through the balancer"',
      `  kill -9 ${nodes[0].entry.child.pid}   # ${nodes[0].name} dies; the tail resumes on another node`,
      `  npx switchboard token --data-dir ${rel} --user alice --rooms 'team-*'`,
      "",
      "Ctrl-C stops the cluster.",
      "",
    ].join("\n"),
  );
}

main().catch((err) => {
  console.error(`error: ${err.message}`);
  void stopAll(1);
});
