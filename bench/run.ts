/**
 * `npm run bench`: runs every scenario in bench/scenarios/ (or those named
 * by `--only`), writes results (bench/lib/report.ts) and exits non-zero if
 * any scenario failed. The other scenarios still run after a failure.
 *
 *   npm run bench                      # full run: 3 × 10 s per case, README updated
 *   npm run bench -- --quick           # smoke run (CI): 1 × 1 s, bench/results/quick
 *   npm run bench -- --only unary,rest
 *
 * @module
 */

import { readdirSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseBenchArgs, usage } from "./lib/args.js";
import { repoRoot } from "./lib/proc.js";
import { writeScenarioRecord, writeSummary } from "./lib/report.js";
import type { BenchOptions, Scenario } from "./lib/types.js";

/** Scenario order; ids not listed run after these, alphabetically. */
const scenarioOrder = ["unary", "rest", "fanout", "idle", "transfer", "cluster"];

/** A scenario file, bench/scenarios/<id>.ts, imported only when it runs. */
interface ScenarioFile {
  readonly id: string;
  load(): Promise<Scenario>;
}

/** Lists bench/scenarios/*.ts in run order; the id is the file name. */
function listScenarios(): ScenarioFile[] {
  const dir = join(repoRoot, "bench", "scenarios");
  const rank = (id: string) => {
    const i = scenarioOrder.indexOf(id);
    return i < 0 ? scenarioOrder.length : i;
  };
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .map((file) => ({
      id: file.slice(0, -".ts".length),
      async load() {
        const mod = (await import(pathToFileURL(join(dir, file)).href)) as { default?: Scenario };
        const scenario = mod.default;
        if (!scenario || typeof scenario.run !== "function" || scenario.id !== this.id) {
          throw new Error(
            `bench/scenarios/${file}: must default-export a Scenario with id "${this.id}"`,
          );
        }
        return scenario;
      },
    }))
    .sort((a, b) => rank(a.id) - rank(b.id) || a.id.localeCompare(b.id));
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseBenchArgs>;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  if (args.help) {
    console.log(usage);
    return 0;
  }
  const all = listScenarios();
  const unknown = args.only.filter((id) => !all.some((s) => s.id === id));
  if (unknown.length > 0) {
    console.error(
      `unknown scenario ${unknown.join(", ")}; known: ${all.map((s) => s.id).join(", ")}`,
    );
    return 2;
  }
  const chosen = args.only.length > 0 ? all.filter((s) => args.only.includes(s.id)) : all;
  const cpuCount = cpus().length;
  const serverCpu = args.serverCpu ?? 0;
  const loadCpu = args.loadCpu ?? (cpuCount > 1 ? 1 : 0);
  const quick = args.quick;
  const resultsDir = join(repoRoot, "bench", "results", ...(quick ? ["quick"] : []));
  const opts: BenchOptions = {
    quick,
    serverCpu,
    loadCpu,
    repeats: quick ? 1 : 3,
    durationSec: quick ? 1 : 5,
    warmupSec: quick ? 0.5 : 3,
    resultsDir,
    chartsDir: quick ? resultsDir : join(repoRoot, "docs", "bench"),
    log: (line) => console.log(line),
  };
  if (serverCpu === loadCpu) {
    opts.log(`warning: server and load generator share CPU ${serverCpu} (${cpuCount} CPUs)`);
  }
  opts.log(
    `bench: ${chosen.map((s) => s.id).join(", ")}${quick ? " (quick)" : ""}; ` +
      `server CPU ${serverCpu}, load CPU ${loadCpu}`,
  );
  const failed: string[] = [];
  for (const file of chosen) {
    const started = Date.now();
    let scenario: Scenario | undefined;
    try {
      scenario = await file.load();
      opts.log(`\n== ${scenario.id}: ${scenario.title}`);
      const result = await scenario.run(opts);
      writeScenarioRecord(opts, { id: scenario.id, title: scenario.title, result });
      opts.log(`ok: ${scenario.id} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed.push(file.id);
      const message = e instanceof Error ? e.message : String(e);
      writeScenarioRecord(opts, { id: file.id, title: scenario?.title ?? file.id, error: message });
      console.error(`FAILED: ${file.id}\n${e instanceof Error ? (e.stack ?? message) : message}`);
    }
  }
  const md = writeSummary(opts, scenarioOrder);
  opts.log(`\nresults: ${md}`);
  if (failed.length > 0) {
    console.error(`failed scenarios: ${failed.join(", ")}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
