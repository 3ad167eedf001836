/**
 * The system under test of the cluster benchmark: a private JetStream
 * `nats-server` (test/helpers/nats.ts), N Switchboard bench servers
 * (bench/servers/switchboard.ts, backend jetstream, one shared JWT secret)
 * and HAProxy configured from deploy/haproxy.cfg with the nodes' ports
 * (test/helpers/cluster.ts renders the template and reads the stats). Every
 * process is pinned to one CPU, so the whole server side shares it.
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../../test/helpers/free-ports.js";
import {
  haproxyBinary,
  haproxyTemplatePath,
  readBalancerStats,
  renderHaproxyConfig,
} from "../../test/helpers/haproxy.js";
import { type NatsServerProcess, startNatsServer } from "../../test/helpers/nats.js";
import { type ServerProcess, startServerProcess } from "../lib/proc.js";

/** HAProxy in front of the nodes. */
export interface Balancer {
  /** `http://127.0.0.1:PORT`: every protocol, every node. */
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, SIGKILL after 5 s; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

/** A running deployment (see {@link deployCluster}). */
export interface ClusterDeployment {
  readonly nats: NatsServerProcess;
  readonly natsPid: number;
  readonly nodes: readonly ServerProcess[];
  readonly balancer: Balancer;
  /** A bearer token every node accepts (user "bench", every room). */
  readonly token: string;
  /** Every server-side process id: NATS, nodes, HAProxy. */
  readonly pids: readonly number[];
  /** Stops everything. Idempotent. */
  close(): Promise<void>;
}

/**
 * Ids of this process's children whose command name (`/proc/<pid>/comm`) is
 * `comm`.
 */
function childPidsNamed(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (name === comm && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // the process is gone
    }
  }
  return pids;
}

/** Pins every thread of `pid` to `cpu` (`taskset -a -p -c`). */
function pin(pid: number, cpu: number): void {
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
}

/** Starts NATS (with JetStream) pinned to `cpu`; returns it and its process id. */
async function startPinnedNats(cpu: number): Promise<{ nats: NatsServerProcess; pid: number }> {
  const before = new Set(childPidsNamed("nats-server"));
  const nats = await startNatsServer();
  const pid = childPidsNamed("nats-server").find((p) => !before.has(p));
  if (pid === undefined) {
    await nats.stop();
    throw new Error("nats-server started but its process was not found");
  }
  pin(pid, cpu);
  return { nats, pid };
}

/**
 * Starts HAProxy pinned to `cpu` from deploy/haproxy.cfg with one server
 * line per node port, and resolves once its stats show every node UP.
 */
export async function startBalancer(nodePorts: readonly number[], cpu: number): Promise<Balancer> {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-bench-haproxy-"));
  const [port, statsPort] = (await freePorts(2)) as [number, number];
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(
    cfg,
    renderHaproxyConfig(readFileSync(haproxyTemplatePath, "utf8"), {
      nodes: nodePorts.map((p) => `127.0.0.1:${p}`),
      statsBind: `127.0.0.1:${statsPort}`,
    }),
  );
  const child: ChildProcess = spawn(
    "taskset",
    ["-c", String(cpu), haproxyBinary(), "-db", "-f", cfg],
    {
      env: {
        ...process.env,
        SWITCHBOARD_LB_BIND: `127.0.0.1:${port}`,
        SWITCHBOARD_LB_CHECK_INTERVAL: "500ms",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  const onData = (s: string) => {
    log = (log + s).slice(-8192);
  };
  child.stdout?.setEncoding("utf8").on("data", onData);
  child.stderr?.setEncoding("utf8").on("data", onData);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const running = () => child.exitCode === null && child.signalCode === null;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (running()) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    const deadline = Date.now() + 30_000;
    let last = "";
    for (;;) {
      if (!running()) throw new Error(`haproxy exited:\n${log}`);
      try {
        const stats = await readBalancerStats(`http://127.0.0.1:${statsPort}`);
        last = stats.map((s) => `${s.name}=${s.status}`).join(" ");
        if (stats.length === nodePorts.length && stats.every((s) => s.status === "UP")) break;
      } catch (e) {
        last = String(e);
      }
      if (Date.now() > deadline)
        throw new Error(`haproxy: nodes not UP within 30 s: ${last}\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop };
}

/**
 * Starts NATS, `nodeCount` Switchboard nodes on it and HAProxy in front of
 * them, all pinned to `cpu`. On failure everything started is stopped.
 *
 * @example
 * const cluster = await deployCluster(3, opts.serverCpu);
 * try { ... cluster.balancer.url ... } finally { await cluster.close(); }
 */
export async function deployCluster(nodeCount: number, cpu: number): Promise<ClusterDeployment> {
  const { nats, pid: natsPid } = await startPinnedNats(cpu);
  const secret = randomBytes(32).toString("hex");
  const started: ServerProcess[] = [];
  const stopNodes = () => Promise.all(started.map((n) => n.stop()));
  try {
    await Promise.all(
      Array.from({ length: nodeCount }, async (_, i) => {
        started.push(
          await startServerProcess({
            name: `cluster-node${i + 1}`,
            script: "bench/servers/switchboard.ts",
            args: ["--backend", "jetstream", "--nats", nats.url],
            env: { SWITCHBOARD_JWT_SECRET: secret },
            cpu,
            readyTimeoutMs: 60_000,
          }),
        );
      }),
    );
    const nodes = [...started].sort((a, b) => a.name.localeCompare(b.name));
    const balancer = await startBalancer(
      nodes.map((n) => n.port),
      cpu,
    );
    const token = nodes[0]!.info.token;
    if (typeof token !== "string") throw new Error("switchboard bench server printed no token");
    let closing: Promise<void> | undefined;
    return {
      nats,
      natsPid,
      nodes,
      balancer,
      token,
      pids: [natsPid, ...nodes.map((n) => n.pid), balancer.pid],
      close() {
        closing ??= (async () => {
          await balancer.stop();
          await stopNodes();
          await nats.stop();
        })();
        return closing;
      },
    };
  } catch (e) {
    await stopNodes();
    await nats.stop();
    throw e;
  }
}
