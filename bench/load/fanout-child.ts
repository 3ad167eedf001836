/**
 * The parent side of a load process: spawns `taskset -c <cpu> node
 * <compiled script> <config JSON>` (compiled by bench/lib/compile.ts) and sends it commands over stdin/stdout (the
 * protocol of fanout-commands.ts). Its CPU time is read from /proc like a
 * server's, so scenarios can show that the load side is not the bottleneck.
 * Under `BENCH_CPU_PROF=<dir>` (as for servers, see lib/proc.ts) it runs with
 * `--cpu-prof` and writes its profile to `<dir>/load-<name>/`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { compiledEntry } from "../lib/compile.js";
import { nodeFlags, repoRoot, sampleProcess } from "../lib/proc.js";

/** A running load process. */
export interface LoadChild {
  readonly name: string;
  readonly pid: number;
  /** Sends `{cmd, ...args}`; resolves with the result, rejects with the child's error or on timeout. */
  request<T = Record<string, unknown>>(
    cmd: string,
    args?: Readonly<Record<string, unknown>>,
    timeoutMs?: number,
  ): Promise<T>;
  /** User + system CPU seconds used so far. */
  cpuSec(): number;
  /** Ends stdin (the child exits), SIGKILL after 5 s; resolves once it exited. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `script` (relative to the repository root) pinned to `cpu`, with
 * `config` as its JSON argument.
 *
 * @example
 * const subs = startLoadChild("subscribers", "bench/load/fanout-subscribers.ts", config, opts.loadCpu);
 * await subs.request("open", {}, 60_000);
 */
export function startLoadChild(
  name: string,
  script: string,
  config: unknown,
  cpu: number,
): LoadChild {
  const flags = nodeFlags(`load-${name}`);
  const child = spawn(
    "taskset",
    ["-c", String(cpu), process.execPath, ...flags, compiledEntry(script), JSON.stringify(config)],
    { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] },
  );
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let stderr = "";
  let buffered = "";
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const failAll = (why: string) => {
    for (const w of waiting.values()) w.reject(new Error(`${name}: ${why}\n${stderr.trim()}`));
    waiting.clear();
  };
  child.once("exit", (code, signal) => failAll(`exited (${code ?? signal})`));
  child.once("error", (e) => failAll(`could not start: ${e.message}`));
  child.stdin.on("error", () => {});
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const reply = JSON.parse(line) as {
        id: number;
        ok: boolean;
        result?: unknown;
        error?: string;
      };
      const w = waiting.get(reply.id);
      if (w === undefined) continue;
      waiting.delete(reply.id);
      if (reply.ok) w.resolve(reply.result);
      else w.reject(new Error(`${name}: ${reply.error}`));
    }
  });
  let stopping: Promise<void> | undefined;
  return {
    name,
    pid: child.pid ?? -1,
    request<T>(cmd: string, args: Readonly<Record<string, unknown>> = {}, timeoutMs = 60_000) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(
            new Error(`${name}: no answer to ${cmd} within ${timeoutMs} ms\n${stderr.trim()}`),
          );
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.stdin.write(`${JSON.stringify({ ...args, id, cmd })}\n`);
      });
    },
    cpuSec: () => sampleProcess(child.pid ?? -1).cpuSec,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.stdin.end();
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
