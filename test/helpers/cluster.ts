/**
 * A Switchboard cluster for tests, on loopback: N nodes as child processes
 * (`bin/switchboard.js serve --nats …`, so a test can `kill -9` one) sharing
 * one JWT secret, and HAProxy in front of them, configured from
 * deploy/haproxy.cfg with the nodes' ports and a stats listener the tests
 * read to see which node serves what. NATS is the caller's (see nats.ts).
 * Every process started here is killed by `close()`, and also when the test
 * process exits.
 *
 * A missing `haproxy` binary makes {@link startCluster} reject: the tests
 * fail, they never skip.
 *
 * @example
 * const nats = await startNatsServer();
 * const cluster = await startCluster({ natsUrls: [nats.url] });
 * t.after(async () => { await cluster.close(); await nats.stop(); });
 * const token = await cluster.token({ subject: "ada", rooms: ["*"] });
 * await cluster.nodes[0].kill(); // SIGKILL
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type MintClaims, mintToken } from "../../src/auth/tokens.js";
import { freePorts } from "./free-ports.js";
import {
  type BalancerServerStats,
  balancerBound,
  haproxyBinary,
  haproxyTemplatePath,
  readBalancerStats,
  renderHaproxyConfig,
} from "./haproxy.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const switchboardBin = join(root, "bin", "switchboard.js");

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** A running child process whose output is kept. */
interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  log(): string;
  waitFor(match: RegExp, timeoutMs: number): Promise<void>;
}

function startProc(cmd: string, args: string[], env: NodeJS.ProcessEnv, name: string): Proc {
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  track(child);
  let log = "";
  const listeners = new Set<() => void>();
  const onData = (s: string) => {
    log = (log + s).slice(-32_768);
    for (const l of listeners) l();
  };
  child.stdout!.setEncoding("utf8").on("data", onData);
  child.stderr!.setEncoding("utf8").on("data", onData);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      onData(`\n[${name} exited: ${signal ?? code}]\n`);
      resolve();
    });
  });
  const waitFor = (match: RegExp, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (match.test(log)) finish(undefined);
        else if (child.exitCode !== null || child.signalCode !== null)
          finish(new Error(`${name} exited before ${match}:\n${log}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`${name}: no ${match} within ${timeoutMs} ms:\n${log}`)),
        timeoutMs,
      );
      const finish = (err: Error | undefined) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (err) reject(err);
        else resolve();
      };
      listeners.add(check);
      check();
    });
  return { child, exited, log: () => log, waitFor };
}

async function stopProc(proc: Proc | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill(signal);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), 5000);
  await proc.exited;
  clearTimeout(timer);
}

/** One Switchboard node of a {@link TestCluster}. */
export interface ClusterNode {
  /** `node1` … (the HAProxy server name). */
  readonly name: string;
  /** The node's own URL, bypassing the balancer. */
  readonly url: string;
  /** The port the node listens on (picked by the kernel at its first start). */
  readonly port: number;
  readonly running: boolean;
  /** The node's stdout and stderr so far (last 32 KiB). */
  log(): string;
  /** Sends `signal` (default SIGKILL) and waits until the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the node again on the same port (after `kill`); resolves once it listens. */
  start(): Promise<void>;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** NATS URLs every node connects to. */
  readonly natsUrls: readonly string[];
  /** Number of nodes. Default 3. */
  readonly nodes?: number;
  /** NATS prefix. Default: unique per cluster, so tests sharing a NATS server do not meet. */
  readonly prefix?: string;
  /** JetStream replicas. Default 1. */
  readonly replicas?: number;
  /** Stream heartbeat of the nodes. Default 2000 ms. */
  readonly heartbeatMs?: number;
  /** Other `serve` flags, e.g. `["--unary-timeout-ms", "5000"]`. */
  readonly serveArgs?: readonly string[];
  /** HAProxy health-check interval. Default "500ms". */
  readonly checkInterval?: string;
  /** Max wait for the nodes to listen and HAProxy to see them up. Default 90000 ms. */
  readonly startTimeoutMs?: number;
}

/** A running cluster. */
export interface TestCluster {
  /** The balancer's URL: every protocol, every node. */
  readonly url: string;
  /** HAProxy's stats page (CSV at `/;csv`). */
  readonly statsUrl: string;
  readonly nodes: readonly ClusterNode[];
  /** The NATS prefix the nodes use. */
  readonly prefix: string;
  /** Mints a token with the cluster's shared secret. */
  token(claims: Partial<MintClaims> & { subject: string }): Promise<string>;
  /** The balancer's view of the nodes. */
  stats(): Promise<BalancerServerStats[]>;
  /** Waits until the balancer reports exactly the named nodes as `UP` (default: all running ones). */
  waitForBalancer(up?: readonly string[], timeoutMs?: number): Promise<void>;
  /** HAProxy's output so far. */
  balancerLog(): string;
  /** Kills every process and removes the temp dir. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the nodes and HAProxy, and resolves once HAProxy reports every node
 * healthy. On failure everything started is stopped again.
 */
export async function startCluster(opts: ClusterOptions): Promise<TestCluster> {
  const haproxy = haproxyBinary();
  const count = opts.nodes ?? 3;
  const timeoutMs = opts.startTimeoutMs ?? 90_000;
  const dir = await mkdtemp(join(tmpdir(), "switchboard-cluster-"));
  const secret = randomBytes(32).toString("hex");
  const prefix = opts.prefix ?? `sbt${randomBytes(4).toString("hex")}`;
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("SWITCHBOARD_")) delete env[key];

  const nodes: (ClusterNode & { stop(): Promise<void> })[] = [];
  let balancer: Proc | undefined;
  const closeAll = async () => {
    await stopProc(balancer, "SIGKILL");
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Each node's first start listens on port 0 and reads back the port the
    // kernel picked: a port looked up in advance can be taken by another
    // test's socket before the node binds it. Restarts reuse that port.
    for (let i = 0; i < count; i++) {
      nodes.push(createNode(i + 1));
    }
    function createNode(index: number) {
      const name = `node${index}`;
      let port = 0;
      const args = () => [
        switchboardBin,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--data-dir",
        join(dir, name),
        "--jwt-secret",
        secret,
        "--nats",
        opts.natsUrls.join(","),
        "--nats-prefix",
        prefix,
        "--nats-replicas",
        String(opts.replicas ?? 1),
        "--heartbeat-ms",
        String(opts.heartbeatMs ?? 2000),
        "--shutdown-grace-ms",
        "1000",
        ...(opts.serveArgs ?? []),
      ];
      let proc: Proc | undefined;
      const running = () =>
        proc !== undefined && proc.child.exitCode === null && proc.child.signalCode === null;
      let previousLogs = "";
      return {
        name,
        get url() {
          return `http://127.0.0.1:${port}`;
        },
        get port() {
          return port;
        },
        get running() {
          return running();
        },
        log: () => previousLogs + (proc?.log() ?? ""),
        async kill(signal: NodeJS.Signals = "SIGKILL") {
          await stopProc(proc, signal);
        },
        async start() {
          if (running()) throw new Error(`${name} is running`);
          previousLogs += proc?.log() ?? "";
          proc = startProc(process.execPath, args(), env, name);
          await proc.waitFor(/switchboard listening on/, timeoutMs);
          if (port === 0) {
            const m = /switchboard listening on https?:\/\/[^\s]+:(\d+)/.exec(proc.log());
            if (!m) throw new Error(`${name}: no port in its listening line:\n${proc.log()}`);
            port = Number(m[1]);
          }
        },
        async stop() {
          await stopProc(proc, "SIGKILL");
        },
      };
    }
    await Promise.all(nodes.map((n) => n.start()));

    // HAProxy cannot report the ports it got, so they are looked up first;
    // should another socket take one before HAProxy binds it, HAProxy exits
    // and is started again on fresh ports.
    const cfgPath = join(dir, "haproxy.cfg");
    const template = await readFile(haproxyTemplatePath, "utf8");
    let lbPort = 0;
    let statsPort = 0;
    for (let attempt = 1; ; attempt++) {
      [lbPort, statsPort] = (await freePorts(2)) as [number, number];
      await writeFile(
        cfgPath,
        renderHaproxyConfig(template, {
          nodes: nodes.map((n) => `127.0.0.1:${n.port}`),
          statsBind: `127.0.0.1:${statsPort}`,
        }),
      );
      balancer = startProc(
        haproxy,
        ["-db", "-f", cfgPath],
        {
          ...env,
          SWITCHBOARD_LB_BIND: `127.0.0.1:${lbPort}`,
          SWITCHBOARD_LB_CHECK_INTERVAL: opts.checkInterval ?? "500ms",
        },
        "haproxy",
      );
      const bound = await balancerBound(balancer.child, statsPort, timeoutMs);
      if (bound) break;
      if (attempt === 3 || !/cannot bind|address already in use/i.test(balancer.log())) {
        throw new Error(`haproxy exited:\n${balancer.log()}`);
      }
    }
    const statsUrl = `http://127.0.0.1:${statsPort}`;
    const stats = () => readBalancerStats(statsUrl);
    const lb = balancer;
    const waitForBalancer = async (up?: readonly string[], wait = 30_000) => {
      const want = [...(up ?? nodes.filter((n) => n.running).map((n) => n.name))].sort();
      const deadline = Date.now() + wait;
      let last = "";
      while (Date.now() < deadline) {
        if (lb.child.exitCode !== null || lb.child.signalCode !== null) {
          throw new Error(`haproxy exited:\n${lb.log()}`);
        }
        try {
          const s = await stats();
          last = s.map((x) => `${x.name}=${x.status}`).join(" ");
          const isUp = s.filter((x) => x.status === "UP").map((x) => x.name);
          if (isUp.sort().join() === want.join()) return;
        } catch (err) {
          last = String(err);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`haproxy: want ${want.join(",")} UP, have ${last}\n${lb.log()}`);
    };
    await waitForBalancer(undefined, timeoutMs);

    let closing: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${lbPort}`,
      statsUrl,
      nodes,
      prefix,
      token: (claims) => mintToken(new TextEncoder().encode(secret), claims),
      stats,
      waitForBalancer,
      balancerLog: () => lb.log(),
      close() {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    const logs = nodes.map((n) => `--- ${n.name}\n${n.log()}`).join("\n");
    await closeAll();
    throw new Error(`${(err as Error).message}\n${logs}`, { cause: err });
  }
}
