/**
 * Bench server processes: spawn one pinned to a CPU (`taskset -c`), wait for
 * its ready line, sample its CPU time and memory from /proc, stop it.
 *
 * A server script prints exactly one JSON line `{"ready":true,"port":N,...}`
 * on stdout once it listens, and exits on SIGTERM. With the environment
 * variable `BENCH_CPU_PROF=<dir>`, every server runs with `--cpu-prof`
 * and writes its profile to `<dir>/<name>/` when it exits.
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compiledEntry } from "./compile.js";

/** The repository root (bench/lib/../..). */
export const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions {
  /** Short name for logs and profile directories, e.g. "switchboard". */
  readonly name: string;
  /** TypeScript entry point, absolute or relative to the repository root. */
  readonly script: string;
  readonly args?: readonly string[];
  /** Added to the parent's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** CPU to pin the process to; unset: not pinned. */
  readonly cpu?: number;
  /** How long to wait for the ready line; default 30 s. */
  readonly readyTimeoutMs?: number;
}

/** CPU time and resident memory of a process at one moment. */
export interface ProcessSample {
  /** User + system CPU seconds used so far. */
  readonly cpuSec: number;
  /** Resident set size (VmRSS). */
  readonly rssKiB: number;
}

/** A running server process. */
export interface ServerProcess {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** The whole ready line (port, token, ...). */
  readonly info: Readonly<Record<string, unknown>>;
  /** CPU seconds and RSS now, from /proc/<pid>/stat and /proc/<pid>/status. */
  sample(): ProcessSample;
  /** Peak resident set size so far (VmHWM). */
  peakRssKiB(): number;
  /** The last lines the process wrote to stderr (for error messages). */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process exited. Idempotent. */
  stop(): Promise<void>;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, usually 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * Reads user + system CPU seconds and RSS of any process from /proc.
 *
 * @example
 * const { cpuSec, rssKiB } = sampleProcess(process.pid);
 */
export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which is in parentheses and may contain spaces).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { cpuSec: ticks / ticksPerSecond(), rssKiB: statusKiB(pid, "VmRSS") };
}

/** One `kB` field of /proc/<pid>/status, e.g. VmRSS or VmHWM. */
export function statusKiB(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) : 0;
}

/** Node flags for a server process: `--cpu-prof` under BENCH_CPU_PROF. */
export function nodeFlags(name: string): string[] {
  const flags: string[] = [];
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir) {
    const dir = join(resolve(profDir), name);
    mkdirSync(dir, { recursive: true });
    flags.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
  }
  return flags;
}

/**
 * Compiles `script` (compile.ts), spawns `taskset -c <cpu> node <compiled> <args>` and resolves
 * once it printed its ready line. Rejects (and kills the process) when it
 * exits first, prints something else, or times out.
 *
 * @example
 * const server = await startServerProcess({ name: "grpc-js", script: "bench/servers/grpc-js-echo.ts", cpu: 0 });
 * try { ... } finally { await server.stop(); }
 */
export async function startServerProcess(opts: ServerProcessOptions): Promise<ServerProcess> {
  // Compiled JavaScript, not tsx (see compile.ts).
  const script = compiledEntry(opts.script);
  const nodeArgs = [...nodeFlags(opts.name), script, ...(opts.args ?? [])];
  const [cmd, args] =
    opts.cpu === undefined
      ? [process.execPath, nodeArgs]
      : ["taskset", ["-c", String(opts.cpu), process.execPath, ...nodeArgs]];
  const child = spawn(cmd, args, {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const info = await waitForReady(child, opts, () => stderr).catch(async (e: unknown) => {
    child.kill("SIGKILL");
    await exited;
    throw e;
  });
  const pid = child.pid!;
  let stopping: Promise<void> | undefined;
  return {
    name: opts.name,
    port: Number(info.port),
    pid,
    info,
    sample: () => sampleProcess(pid),
    peakRssKiB: () => statusKiB(pid, "VmHWM"),
    stderrTail: () => stderr,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

function waitForReady(
  child: ChildProcess,
  opts: ServerProcessOptions,
  stderr: () => string,
): Promise<Record<string, unknown>> {
  return new Promise((resolveReady, reject) => {
    let buffered = "";
    const fail = (why: string) => {
      cleanup();
      reject(new Error(`${opts.name}: ${why}${stderr() ? `\n${stderr().trim()}` : ""}`));
    };
    const onData = (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      const line = buffered.slice(0, newline).trim();
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      const info = parsed as Record<string, unknown> | undefined;
      if (info?.ready !== true || typeof info.port !== "number") {
        fail(`expected a ready line {"ready":true,"port":N}, got ${JSON.stringify(line)}`);
        return;
      }
      cleanup();
      // Later output is drained and ignored so the pipe never fills.
      child.stdout?.resume();
      resolveReady(info);
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited (${code ?? signal}) before it was ready`);
    const onError = (e: Error) => fail(`could not start: ${e.message}`);
    const timer = setTimeout(
      () => fail(`not ready after ${opts.readyTimeoutMs ?? 30_000} ms`),
      opts.readyTimeoutMs ?? 30_000,
    );
    function cleanup() {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      child.off("error", onError);
    }
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}
