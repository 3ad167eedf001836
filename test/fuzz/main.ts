/**
 * `npm run fuzz -- [--seed N] [--cases M] [--case I] [--concurrency C]`:
 * an on-demand fuzz run against a fresh server child, for long runs and for
 * replaying a failure printed by the CI test. Exits 1 on any failure.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { replayHint, runFuzz } from "./harness.js";
import { createLiveness } from "./liveness.js";
import { randomSeed } from "./prng.js";
import { startFuzzServer } from "./server-process.js";

/**
 * Runs the fuzzer as a command; returns the exit code.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: "string" },
      cases: { type: "string" },
      case: { type: "string" },
      concurrency: { type: "string" },
    },
  });
  const num = (name: string, v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new Error(`--${name}: not a non-negative integer: ${v}`);
    return n;
  };
  const seed = num("seed", values.seed, randomSeed());
  const cases = num("cases", values.cases, 20_000);
  const only = values.case === undefined ? undefined : num("case", values.case, 0);
  const concurrency = num("concurrency", values.concurrency, 8);
  console.log(
    `fuzzing with seed ${seed}, ${only === undefined ? `${cases} cases` : `case ${only} only`}`,
  );
  const server = await startFuzzServer();
  const live = createLiveness(server.url, server.token);
  try {
    await live.check("before fuzzing");
    const report = await runFuzz(server, {
      seed,
      cases,
      concurrency,
      checkAlive: (label) => live.check(label),
      log: (line) => console.log(line),
      ...(only === undefined ? {} : { only }),
    });
    if (server.exited() === undefined) await live.check("after fuzzing", { fresh: true });
    console.log(`per category: ${JSON.stringify(report.perCategory)}`);
    if (report.failures.length > 0) {
      console.error(
        `\n${report.failures.length} failure(s), seed ${seed}:\n\n${report.failures.join("\n\n")}`,
      );
      return 1;
    }
    console.log(
      `ok: ${report.cases} cases in ${(report.ms / 1000).toFixed(1)} s; ${replayHint(seed, cases)}`,
    );
    return 0;
  } finally {
    live.close();
    await server.close();
  }
}
