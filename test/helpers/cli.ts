/**
 * Runs the `switchboard` CLI (bin/switchboard.js) as a child process for tests:
 * a clean environment, collected output, waits on output, and a kill timer so
 * no child outlives its test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/switchboard.js", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any SWITCHBOARD_* variable of the caller, plus `extra`. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("SWITCHBOARD_")) delete env[key];
  return { ...env, ...extra };
}

/** A running CLI child process whose output is collected. */
export interface LiveCli {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  /** Resolves once stdout+stderr satisfy `match`; rejects on timeout or exit. */
  waitFor(match: RegExp, timeoutMs?: number): Promise<void>;
  readonly exited: Promise<CliRun>;
}

export function spawnCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): LiveCli {
  const child = spawn(process.execPath, [bin, ...args], {
    env: opts.env ?? cliEnv(),
    cwd: opts.cwd,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    output.stdout += d;
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    output.stderr += d;
    for (const l of listeners) l();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  const exited = new Promise<CliRun>((resolve) => {
    child.on("close", (code) => {
      clearTimeout(killer);
      for (const l of listeners) l();
      resolve({ code, ...output });
    });
  });
  const waitFor = (match: RegExp, timeoutMs = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (match.test(output.stdout + output.stderr)) {
          done();
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`exited before ${match}: ${output.stdout}${output.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${match}: ${output.stdout}${output.stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return { child, output, waitFor, exited };
}
