/**
 * The fuzz harness: runs `cases` generated cases against a server in a child
 * process, in batches, with a few concurrent workers; after every batch it
 * checks that the child is alive and still serves real clients (a valid Send
 * through connect-node and through grpc-js), and records its memory use.
 *
 * Case `i` of run seed `s` is generated from its own PRNG seeded with
 * `caseSeed(s, i)` and picks its category from that PRNG, so a failure is
 * replayed with the same seed and case count regardless of timing.
 *
 * @module
 */
import http from "node:http";
import type http2 from "node:http2";
import type { FuzzCategory, FuzzTarget } from "./category.js";
import { grpcFraming, protobufBodies } from "./grpc-categories.js";
import { connectUnary, grpcWebBodies, routesAndTypes } from "./http-categories.js";
import { caseSeed, createRng } from "./prng.js";
import type { FuzzServer } from "./server-process.js";
import { http1Garbage, http2Abuse, http2Frames } from "./transport-categories.js";
import { h2Connect } from "./wire.js";

/** Every category, in the order the README documents them. */
export const categories: readonly FuzzCategory[] = [
  grpcFraming,
  protobufBodies,
  connectUnary,
  grpcWebBodies,
  routesAndTypes,
  http1Garbage,
  http2Abuse,
  http2Frames,
];

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  seed: number;
  cases: number;
  /** Run only this case index (replay). */
  only?: number;
  /** Cases per batch; liveness is checked after each. Default 500. */
  batchSize?: number;
  /** Concurrent workers. Default 8. */
  concurrency?: number;
  /** Proves the server still serves real clients; throws if not. */
  checkAlive: (label: string) => Promise<void>;
  log?: (line: string) => void;
}

/** Outcome of {@link runFuzz}. */
export interface FuzzReport {
  cases: number;
  ms: number;
  perCategory: Record<string, number>;
  /** Summed case time per category, in ms. */
  categoryMs: Record<string, number>;
  /** Child RSS after each batch, in MiB. */
  rssMiB: number[];
  /** Child heap in use after a full GC after each batch, in MiB. */
  heapMiB: number[];
  failures: string[];
}

/** How to replay a run. */
export const replayHint = (seed: number, cases: number, index?: number) =>
  `replay: npm run fuzz -- --seed ${seed} --cases ${cases}${index === undefined ? "" : ` --case ${index}`}`;

/** The category case `index` of run `seed` belongs to. */
export function categoryOf(seed: number, index: number) {
  const rng = createRng(caseSeed(seed, index));
  const total = categories.reduce((n, c) => n + c.weight, 0);
  let r = rng.int(total);
  for (const c of categories) {
    if (r < c.weight) return { category: c, rng };
    r -= c.weight;
  }
  throw new Error("unreachable");
}

/**
 * Runs the cases and returns a report; failures are collected (at most 20
 * are kept), a dead server stops the run at once.
 *
 * @example
 * const report = await runFuzz(server, { seed: 1, cases: 5000, checkAlive });
 */
export async function runFuzz(server: FuzzServer, opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => {});
  const batchSize = opts.batchSize ?? 500;
  const concurrency = opts.concurrency ?? 8;
  const report: FuzzReport = {
    cases: 0,
    ms: 0,
    perCategory: {},
    categoryMs: {},
    rssMiB: [],
    heapMiB: [],
    failures: [],
  };
  const started = Date.now();
  const workers = Array.from({ length: concurrency }, () => createWorkerTarget(server));
  const indices =
    opts.only !== undefined ? [opts.only] : Array.from({ length: opts.cases }, (_, i) => i);
  try {
    for (let from = 0; from < indices.length; from += batchSize) {
      const batch = indices.slice(from, from + batchSize);
      let next = 0;
      await Promise.all(
        workers.map(async (target) => {
          while (next < batch.length) {
            const index = batch[next++] as number;
            const { category, rng } = categoryOf(opts.seed, index);
            report.perCategory[category.name] = (report.perCategory[category.name] ?? 0) + 1;
            const t0 = Date.now();
            try {
              await category.run(rng, target);
            } catch (e) {
              const line = `case ${index} [${category.name}]: ${(e as Error).message}\n  oracle: ${category.oracle}\n  ${replayHint(opts.seed, opts.cases, index)}`;
              if (report.failures.length < 20) report.failures.push(line);
              log(`FAIL ${line}`);
            }
            report.categoryMs[category.name] =
              (report.categoryMs[category.name] ?? 0) + Date.now() - t0;
            report.cases++;
          }
        }),
      );
      const exited = server.exited();
      if (exited !== undefined) {
        report.failures.push(
          `the server child ${exited} during cases ${batch[0]}-${batch.at(-1)}\n  stderr: ${server.stderrTail()}\n  ${replayHint(opts.seed, opts.cases)}`,
        );
        break;
      }
      const label = `after cases ${batch[0]}-${batch.at(-1)}`;
      await opts.checkAlive(label);
      const { rss, heapUsed } = await server.stats();
      report.rssMiB.push(Math.round(rss / 2 ** 20));
      report.heapMiB.push(Math.round(heapUsed / 2 ** 20));
      const s = (Date.now() - started) / 1000;
      log(
        `${report.cases} cases in ${s.toFixed(1)} s (${Math.round(report.cases / s)} cases/s), server RSS ${report.rssMiB.at(-1)} MiB, heap ${report.heapMiB.at(-1)} MiB`,
      );
    }
  } finally {
    for (const w of workers) w.close();
  }
  report.ms = Date.now() - started;
  return report;
}

function createWorkerTarget(server: FuzzServer): FuzzTarget & { close(): void } {
  let session: http2.ClientHttp2Session | undefined;
  let opening: Promise<http2.ClientHttp2Session> | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  return {
    url: server.url,
    port: server.port,
    token: server.token,
    agent,
    session() {
      if (session && !session.closed && !session.destroyed) return Promise.resolve(session);
      opening ??= h2Connect(server.url).then(
        (s) => {
          session = s;
          opening = undefined;
          return s;
        },
        (e) => {
          opening = undefined;
          throw e;
        },
      );
      return opening;
    },
    close() {
      session?.destroy();
      agent.destroy();
    },
  };
}
