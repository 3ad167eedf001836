/**
 * Load generation with h2load (Debian `nghttp2-client`), pinned to the load
 * CPU: throughput from its summary, p50/p99 from its per-request log
 * (`--log-file`: start time, status, duration in microseconds).
 *
 * h2load checks only the HTTP status: a gRPC error (`grpc-status` in the
 * trailers, HTTP 200) counts as a success, so scenarios check correctness
 * with a real client separately.
 *
 * @module
 */

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerProcess } from "./proc.js";
import { median, percentileOfSorted } from "./stats.js";
import type { BenchOptions } from "./types.js";

/** One h2load invocation. */
export interface H2loadLoad {
  /** Full URL, `http://127.0.0.1:PORT/path` (h2c with prior knowledge unless `h1`). */
  readonly url: string;
  /** `-c`: connections. */
  readonly clients: number;
  /** `-m`: concurrent streams per connection (HTTP/2); keep 1 for HTTP/1.1 (no pipelining). */
  readonly streams: number;
  /** `--h1`: HTTP/1.1 with keep-alive. */
  readonly h1?: boolean;
  /** Request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Request body; makes the method POST. */
  readonly body?: Uint8Array;
}

/** What one h2load run measured. */
export interface H2loadResult {
  /** Requests per second (h2load's figure). */
  readonly rps: number;
  /** Median and 99th percentile request time in milliseconds, from the log. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Requests completed / with a 2xx or 3xx status / failed (non-2xx/3xx, reset, timeout). */
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Responses with a 3xx, 4xx or 5xx status. */
  readonly non2xx: number;
  /** Bytes h2load received per completed request (headers, body, framing). */
  readonly bytesPerRequest: number;
}

/**
 * Runs h2load once for `durationSec` seconds, pinned to `cpu`.
 *
 * @throws Error when h2load fails or prints no summary.
 *
 * @example
 * const r = await runH2load({ url, clients: 8, streams: 16 }, 10, 1);
 */
export async function runH2load(
  load: H2loadLoad,
  durationSec: number,
  cpu: number | undefined,
): Promise<H2loadResult> {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-h2load-"));
  try {
    const logFile = join(dir, "requests.log");
    const args = [
      `-c${load.clients}`,
      `-m${load.streams}`,
      "-t1",
      "-D",
      `${Math.max(1, Math.round(durationSec * 1000))}ms`,
      "--log-file",
      logFile,
    ];
    if (load.h1) args.push("--h1");
    for (const [name, value] of Object.entries(load.headers ?? {}))
      args.push("-H", `${name}: ${value}`);
    if (load.body) {
      const bodyFile = join(dir, "body");
      writeFileSync(bodyFile, load.body);
      args.push("-d", bodyFile);
    }
    args.push(load.url);
    const [cmd, cmdArgs] =
      cpu === undefined ? ["h2load", args] : ["taskset", ["-c", String(cpu), "h2load", ...args]];
    const output = await new Promise<string>((done, fail) => {
      execFile(
        cmd,
        cmdArgs,
        { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, timeout: (durationSec + 60) * 1000 },
        (err, stdout, stderr) => {
          if (err) fail(new Error(`h2load ${args.join(" ")}: ${err.message}\n${stderr}${stdout}`));
          else done(stdout);
        },
      );
    });
    return parseH2load(output, readFileSync(logFile, "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Parses h2load's summary and its `--log-file`.
 *
 * @throws Error when the summary lines are missing.
 */
export function parseH2load(output: string, log: string): H2loadResult {
  const finished = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(output);
  const requests =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(output);
  const status = /status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  const traffic = /traffic: \S+ \((\d+)\) total/.exec(output);
  if (!finished || !requests || !status || !traffic) {
    throw new Error(`unexpected h2load output:\n${output}`);
  }
  const done = Number(requests[3]);
  const durationsUs: number[] = [];
  for (const line of log.split("\n")) {
    const fields = line.split("\t");
    if (fields.length >= 3) durationsUs.push(Number(fields[2]));
  }
  const sorted = Float64Array.from(durationsUs).sort();
  return {
    rps: Number(finished[1]),
    p50Ms: percentileOfSorted(sorted, 50) / 1000,
    p99Ms: percentileOfSorted(sorted, 99) / 1000,
    done,
    succeeded: Number(requests[4]),
    failed: Number(requests[5]),
    non2xx: Number(status[1]) + Number(status[2]) + Number(status[3]),
    bytesPerRequest: done > 0 ? Number(traffic[1]) / done : Number.NaN,
  };
}

/** Medians over the repetitions of one case, plus every run. */
export interface H2loadMeasurement {
  /**
   * rps, p50Ms, p99Ms, bytesPerRequest (medians), serverCpuPct (median CPU
   * use of the server process in % of one core, when a server is given),
   * failed and non2xx (sums over the measured runs), succeeded (sum).
   */
  readonly metrics: Record<string, number>;
  /** rps of every measured run. */
  readonly samples: number[];
  readonly runs: H2loadResult[];
}

/**
 * Warms up for `opts.warmupSec`, then runs `opts.repeats` measured runs of
 * `opts.durationSec` each on `opts.loadCpu`, and returns the medians.
 *
 * @example
 * const m = await measureH2load(opts, { url, clients: 8, streams: 16, body, headers }, server);
 * rows.push({ case: "c8 m16", impl: "grpc-js", metrics: m.metrics, samples: m.samples });
 */
export async function measureH2load(
  opts: BenchOptions,
  load: H2loadLoad,
  server?: ServerProcess,
): Promise<H2loadMeasurement> {
  if (opts.warmupSec > 0) await runH2load(load, opts.warmupSec, opts.loadCpu);
  const runs: H2loadResult[] = [];
  const cpuPct: number[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    const before = server?.sample();
    const started = performance.now();
    runs.push(await runH2load(load, opts.durationSec, opts.loadCpu));
    if (server && before) {
      const seconds = (performance.now() - started) / 1000;
      cpuPct.push(((server.sample().cpuSec - before.cpuSec) / seconds) * 100);
    }
  }
  return summarize(runs, cpuPct);
}

/** One implementation's load and server, for {@link measureInterleaved}. */
export interface InterleavedEntry {
  readonly load: H2loadLoad;
  readonly server?: ServerProcess;
}

/**
 * Like {@link measureH2load} for several implementations at once, with
 * their repetitions interleaved (A B C, A B C, …) instead of one after the
 * other: on a machine whose speed drifts (shared cores, frequency), every
 * implementation sees the same conditions, so their ratios stay fair.
 * All servers must be running.
 *
 * @example
 * const [grpcJs, switchboard] = await measureInterleaved(opts, [a, b]);
 */
export async function measureInterleaved(
  opts: BenchOptions,
  entries: readonly InterleavedEntry[],
): Promise<H2loadMeasurement[]> {
  if (opts.warmupSec > 0) {
    for (const e of entries) await runH2load(e.load, opts.warmupSec, opts.loadCpu);
  }
  const runs: H2loadResult[][] = entries.map(() => []);
  const cpuPct: number[][] = entries.map(() => []);
  for (let i = 0; i < opts.repeats; i++) {
    for (const [k, e] of entries.entries()) {
      const before = e.server?.sample();
      const started = performance.now();
      runs[k]!.push(await runH2load(e.load, opts.durationSec, opts.loadCpu));
      if (e.server && before) {
        const seconds = (performance.now() - started) / 1000;
        cpuPct[k]!.push(((e.server.sample().cpuSec - before.cpuSec) / seconds) * 100);
      }
    }
  }
  return entries.map((_, k) => summarize(runs[k]!, cpuPct[k]!));
}

function summarize(runs: H2loadResult[], cpuPct: number[]): H2loadMeasurement {
  const sum = (pick: (r: H2loadResult) => number) => runs.reduce((a, r) => a + pick(r), 0);
  const metrics: Record<string, number> = {
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    bytesPerRequest: median(runs.map((r) => r.bytesPerRequest)),
    succeeded: sum((r) => r.succeeded),
    failed: sum((r) => r.failed),
    non2xx: sum((r) => r.non2xx),
  };
  if (cpuPct.length > 0) metrics.serverCpuPct = median(cpuPct);
  return { metrics, samples: runs.map((r) => r.rps), runs };
}

/**
 * A gRPC request body: the 5-byte length prefix (uncompressed) and the message.
 *
 * @example
 * const body = grpcFrame(toBinary(EchoRequestSchema, req));
 */
export function grpcFrame(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(5 + message.byteLength);
  new DataView(frame.buffer).setUint32(1, message.byteLength);
  frame.set(message, 5);
  return frame;
}
