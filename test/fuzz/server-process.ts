/**
 * Runs the server under fuzz in a child process, so that a crash is seen
 * (the child exits) instead of taking the test runner down with it.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A server running in a child process. */
export interface FuzzServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** A valid bearer token for every room. */
  readonly token: string;
  /** Undefined while the child runs; otherwise how it ended. */
  exited(): string | undefined;
  /** The last lines the child wrote to stderr (server error log). */
  stderrTail(): string;
  /** The child's memory use after a full GC; rejects if it does not answer in time. */
  stats(): Promise<{ rss: number; heapUsed: number }>;
  /** Stops the child (SIGTERM, then SIGKILL after 5 s). Idempotent. */
  close(): Promise<void>;
}

const entry = fileURLToPath(new URL("./server-entry.ts", import.meta.url));

/**
 * Spawns `node --import tsx test/fuzz/server-entry.ts` and waits for its
 * address line.
 *
 * @example
 * const server = await startFuzzServer();
 * try { ... } finally { await server.close(); }
 */
export async function startFuzzServer(startTimeoutMs = 30_000): Promise<FuzzServer> {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", entry], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  let exit: string | undefined;
  const exitedP = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = `exited with ${signal ?? code}`;
      resolve();
    });
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (s: string) => {
    stderr = (stderr + s).slice(-8192);
  });
  const info = await readAddress(child, exitedP, startTimeoutMs).catch(async (e) => {
    child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}\nstderr:\n${stderr}`);
  });
  return {
    ...info,
    exited: () => exit,
    stderrTail: () => stderr,
    stats() {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off("message", onMessage);
          reject(new Error("server child did not report its stats within 10 s"));
        }, 10_000);
        const onMessage = (m: unknown) => {
          clearTimeout(timer);
          resolve(m as { rss: number; heapUsed: number });
        };
        child.once("message", onMessage);
        child.send("stats");
      });
    },
    async close() {
      if (exit !== undefined) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exitedP;
      clearTimeout(timer);
    },
  };
}

function readAddress(
  child: ChildProcess,
  exited: Promise<void>,
  timeoutMs: number,
): Promise<{ url: string; port: number; token: string }> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error(`server child printed no address in ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (s: string) => {
      out += s;
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      resolve(JSON.parse(out.slice(0, nl)));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error("server child exited before it printed its address"));
    });
  });
}
