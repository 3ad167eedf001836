/**
 * Starts, stops, kills and restarts private `nats-server` processes for tests
 * (JetStream on, loopback only, free ports, a temp store directory), alone or
 * as a 3-node JetStream cluster with routes. Every process started here is
 * also killed when the test process exits, so none outlives its test file.
 *
 * The binary is `nats-server` from PATH, or `/usr/sbin/nats-server`, or the
 * `NATS_SERVER_BIN` environment variable. A missing binary makes
 * {@link startNatsServer} reject (tests fail, they never skip).
 *
 * @example
 * const nats = await startNatsServer();
 * t.after(() => nats.stop());
 * const backend = await createJetStreamBackend({ servers: nats.url });
 * await nats.kill("SIGKILL");   // outage
 * await nats.restart();          // same port, same store dir
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary } from "./find-binary.js";
import { freePorts } from "./free-ports.js";

/** Cluster settings of one server (see {@link startNatsCluster}, which fills them in). */
export interface NatsClusterOptions {
  /** Cluster name shared by all members. Default "switchboard-test". */
  name?: string;
  /** Port for routes from the other members. Default: a free port. */
  port?: number;
  /** Route URLs of the other members, e.g. `nats-route://127.0.0.1:6250`. */
  routes: string[];
}

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Client port. Default: a free port. */
  port?: number;
  /** JetStream store directory. Default: a fresh temp dir, removed by `stop()`. */
  storeDir?: string;
  /** Server name (required to be unique in a cluster). Default: `n-<port>`. */
  serverName?: string;
  /** Makes the server a cluster member. */
  cluster?: NatsClusterOptions;
  /** Max wait for the server to be ready (JetStream included). Default 20000 ms. */
  startTimeoutMs?: number;
  /**
   * Wait for `/healthz` (JetStream ready) before resolving. Default true;
   * {@link startNatsCluster} waits for all members together instead.
   */
  waitReady?: boolean;
}

/** A `nats-server` child process. */
export interface NatsServerProcess {
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  /** Client port (kept across `restart()`). */
  readonly port: number;
  /** HTTP monitoring port (`/healthz`, `/jsz`, …). */
  readonly monitorPort: number;
  /** Route port when clustered, else undefined. */
  readonly clusterPort: number | undefined;
  readonly serverName: string;
  readonly storeDir: string;
  /** True while the process runs. */
  readonly running: boolean;
  /** The last lines the server wrote (for failure messages). */
  logTail(): string;
  /**
   * Sends `signal` (default "SIGKILL") and waits until the process exited.
   * The store dir stays, so `restart()` brings it back with its data.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the process if it runs (SIGTERM, SIGKILL after 5 s) and starts it again on the same ports and store dir; resolves when ready. */
  restart(): Promise<void>;
  /** Waits until `/healthz` answers ok (JetStream ready). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Stops the process and removes the store dir if it was created here. Idempotent. */
  stop(): Promise<void>;
}

/** A running cluster (see {@link startNatsCluster}). */
export interface NatsCluster {
  readonly servers: NatsServerProcess[];
  /** Client URLs of all members. */
  readonly urls: string[];
  /** Stops every member and removes their store dirs. Idempotent. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAll(): void {
  for (const child of live) child.kill("SIGKILL");
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", killAll);
  // The test runner ends a file that does not finish with a signal: take the servers along.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** Path of the nats-server binary; throws when none is found. */
export function natsServerBinary(): string {
  return findBinary("nats-server", "NATS_SERVER_BIN");
}

function configText(o: {
  port: number;
  monitorPort: number;
  serverName: string;
  storeDir: string;
  cluster?: NatsClusterOptions & { port: number };
}): string {
  const lines = [
    `server_name: "${o.serverName}"`,
    `host: "127.0.0.1"`,
    `port: ${o.port}`,
    `http: "127.0.0.1:${o.monitorPort}"`,
    `jetstream { store_dir: ${JSON.stringify(o.storeDir)} }`,
  ];
  if (o.cluster) {
    const routes = o.cluster.routes.map((r) => JSON.stringify(r)).join(", ");
    lines.push(
      `cluster { name: ${JSON.stringify(o.cluster.name ?? "switchboard-test")}`,
      `  listen: "127.0.0.1:${o.cluster.port}"`,
      `  routes: [${routes}] }`,
    );
  }
  return `${lines.join("\n")}\n`;
}

async function healthy(monitorPort: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz`, {
      signal: AbortSignal.timeout(1000),
    });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Starts one `nats-server -js` on 127.0.0.1 and waits until JetStream is
 * ready (unless `waitReady: false`).
 *
 * @example
 * const nats = await startNatsServer();
 * try { ... } finally { await nats.stop(); }
 */
export function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerProcess> {
  // Ports picked here can be taken by another test's socket before
  // nats-server binds them; then it is started again on fresh ones.
  const ownPorts =
    opts.port === undefined && opts.cluster?.port === undefined && opts.waitReady !== false;
  return retryOnAddressInUse(() => startNatsServerOnce(opts), ownPorts ? 3 : 1);
}

/** Runs `start` up to `attempts` times while it fails because a port was taken. */
async function retryOnAddressInUse<T>(start: () => Promise<T>, attempts: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      if (attempt >= attempts || !/address already in use/i.test(String(e))) throw e;
    }
  }
}

async function startNatsServerOnce(opts: NatsServerOptions): Promise<NatsServerProcess> {
  const bin = natsServerBinary();
  installExitHook();
  // Distinct: the client, monitoring and cluster ports.
  const [freeClient, monitorPort, freeCluster] = (await freePorts(3)) as [number, number, number];
  const port = opts.port ?? freeClient;
  const ownDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), "switchboard-nats-")));
  const serverName = opts.serverName ?? `n-${port}`;
  const cluster = opts.cluster
    ? { ...opts.cluster, port: opts.cluster.port ?? freeCluster }
    : undefined;
  const confPath = join(storeDir, `nats-${serverName}.conf`);
  await writeFile(confPath, configText({ port, monitorPort, serverName, storeDir, cluster }));
  const startTimeoutMs = opts.startTimeoutMs ?? 20_000;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = "";
  let stopped = false;

  const spawnChild = (): void => {
    const c = spawn(bin, ["-c", confPath], { stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    live.add(c);
    const onData = (s: string) => {
      log = (log + s).slice(-16_384);
    };
    c.stdout?.setEncoding("utf8").on("data", onData);
    c.stderr?.setEncoding("utf8").on("data", onData);
    exited = new Promise((resolve) => {
      c.once("exit", (code, signal) => {
        live.delete(c);
        if (child === c) child = undefined;
        onData(`\n[nats-server exited: ${signal ?? code}]\n`);
        resolve();
      });
    });
  };

  const isRunning = () =>
    child !== undefined && child.exitCode === null && child.signalCode === null;

  const waitReady = async (timeoutMs = startTimeoutMs): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!isRunning()) throw new Error(`nats-server ${serverName} is not running\n${log}`);
      if (await healthy(monitorPort)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nats-server ${serverName} not ready within ${timeoutMs} ms\n${log}`);
  };

  const kill = async (signal: NodeJS.Signals = "SIGKILL"): Promise<void> => {
    if (!isRunning()) return;
    const done = exited;
    child!.kill(signal);
    const timer = setTimeout(() => child?.kill("SIGKILL"), 5000);
    await done;
    clearTimeout(timer);
  };

  spawnChild();
  if (opts.waitReady !== false) {
    try {
      await waitReady();
    } catch (e) {
      await kill("SIGKILL");
      if (ownDir) await rm(storeDir, { recursive: true, force: true });
      throw e;
    }
  }

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    clusterPort: cluster?.port,
    serverName,
    storeDir,
    get running() {
      return isRunning();
    },
    logTail: () => log,
    kill,
    waitReady,
    async restart() {
      if (stopped) throw new Error("nats-server was stopped");
      await kill("SIGTERM");
      spawnChild();
      await waitReady();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill("SIGTERM");
      if (ownDir) await rm(storeDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts `size` (default 3) clustered JetStream servers with routes to each
 * other and waits until all report healthy (a meta leader exists), so R3
 * streams can be created right away.
 *
 * @example
 * const cluster = await startNatsCluster(3);
 * t.after(() => cluster.stop());
 * const backend = await createJetStreamBackend({ servers: cluster.urls, replicas: 3 });
 * await cluster.servers[0].kill("SIGKILL");
 */
export function startNatsCluster(
  size = 3,
  opts: { name?: string; startTimeoutMs?: number } = {},
): Promise<NatsCluster> {
  return retryOnAddressInUse(() => startNatsClusterOnce(size, opts), 3);
}

async function startNatsClusterOnce(
  size: number,
  opts: { name?: string; startTimeoutMs?: number },
): Promise<NatsCluster> {
  const clusterPorts: number[] = [];
  clusterPorts.push(...(await freePorts(size)));
  const name = opts.name ?? `switchboard-test-${process.pid}-${clusterPorts[0]}`;
  const servers: NatsServerProcess[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < size; i++) {
      const routes = clusterPorts
        .filter((_, j) => j !== i)
        .map((p) => `nats-route://127.0.0.1:${p}`);
      servers.push(
        await startNatsServer({
          serverName: `${name}-n${i}`,
          cluster: { name, port: clusterPorts[i]!, routes },
          waitReady: false,
          startTimeoutMs: opts.startTimeoutMs,
        }),
      );
    }
    await Promise.all(servers.map((s) => s.waitReady(opts.startTimeoutMs ?? 30_000)));
  } catch (e) {
    await stopAll();
    throw e;
  }
  let stopped = false;
  return {
    servers,
    urls: servers.map((s) => s.url),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
    },
  };
}

/** The NATS a test file should use (see {@link testNats}). */
export interface TestNats {
  readonly url: string;
  /** True when the server was started by {@link testNats} (it is stopped by `stop()`). */
  readonly private: boolean;
  /** Stops the private server, if any. Idempotent. */
  stop(): Promise<void>;
}

async function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url.replace(/^nats:/, "http:"));
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 4222) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * The NATS server for tests that share one: `SWITCHBOARD_TEST_NATS_URL` when
 * set (used as is: if it is down, the tests fail); else the server on
 * 127.0.0.1:4222 when one answers; else a private `nats-server -js` started
 * here (so a fresh CI machine needs only the binary). Never skips: without a
 * reachable URL and without the binary, it rejects.
 *
 * @example
 * const nats = await testNats();
 * after(() => nats.stop());
 */
export async function testNats(): Promise<TestNats> {
  const configured = process.env.SWITCHBOARD_TEST_NATS_URL;
  if (configured) return { url: configured, private: false, stop: async () => {} };
  const local = "nats://127.0.0.1:4222";
  if (await reachable(local)) return { url: local, private: false, stop: async () => {} };
  const server = await startNatsServer();
  return { url: server.url, private: true, stop: () => server.stop() };
}
