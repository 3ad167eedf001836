/**
 * Writes benchmark results: `<resultsDir>/<id>.json` per scenario, charts
 * (`<chartsDir>/<file>.svg`), `<resultsDir>/results.md` with one table per
 * scenario whose JSON is in `resultsDir` (so `--only` runs keep the other
 * scenarios' last results), and on full runs the README block between
 * `<!-- bench:begin -->` and `<!-- bench:end -->`.
 *
 * @module
 */

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { dirname, join, relative } from "node:path";
import { repoRoot } from "./proc.js";
import { renderBarChart } from "./svg.js";
import type { BenchOptions, BenchRow, ScenarioResult } from "./types.js";

/** The machine a run was measured on. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly node: string;
  readonly kernel: string;
  readonly h2load: string;
}

/** What `<resultsDir>/<id>.json` holds: a result, or why the scenario failed. */
export interface ScenarioRecord {
  readonly id: string;
  readonly title: string;
  /** ISO time the scenario finished. */
  readonly date: string;
  readonly quick: boolean;
  readonly settings: {
    readonly repeats: number;
    readonly durationSec: number;
    readonly warmupSec: number;
    readonly serverCpu: number;
    readonly loadCpu: number;
  };
  readonly machine: MachineInfo;
  readonly result?: ScenarioResult;
  readonly error?: string;
}

const beginMarker = "<!-- bench:begin -->";
const endMarker = "<!-- bench:end -->";

/**
 * Describes this machine: CPU model (/proc/cpuinfo), CPU count, Node,
 * kernel and h2load versions.
 *
 * @example
 * machineInfo().cpuModel; // "AMD EPYC"
 */
export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? "unknown";
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // not Linux: keep os.cpus()'s model
  }
  let h2load = "not installed";
  try {
    h2load = execFileSync("h2load", ["--version"], { encoding: "utf8" }).split("\n")[0]!.trim();
  } catch {
    // reported as "not installed"
  }
  return { cpuModel, cpuCount: cpus().length, node: process.version, kernel: release(), h2load };
}

/**
 * Writes one scenario's JSON and charts.
 *
 * @example
 * writeScenarioRecord(opts, { id: "unary", title: "Unary", result });
 */
export function writeScenarioRecord(
  opts: BenchOptions,
  record: { id: string; title: string; result?: ScenarioResult; error?: string },
): void {
  mkdirSync(opts.resultsDir, { recursive: true });
  const full: ScenarioRecord = {
    ...record,
    date: new Date().toISOString(),
    quick: opts.quick,
    settings: {
      repeats: opts.repeats,
      durationSec: opts.durationSec,
      warmupSec: opts.warmupSec,
      serverCpu: opts.serverCpu,
      loadCpu: opts.loadCpu,
    },
    machine: machineInfo(),
  };
  writeFileSync(join(opts.resultsDir, `${record.id}.json`), `${JSON.stringify(full, null, 2)}\n`);
  if (record.result) {
    mkdirSync(opts.chartsDir, { recursive: true });
    for (const chart of record.result.charts) {
      writeFileSync(
        join(opts.chartsDir, `${chart.file}.svg`),
        renderBarChart(chart, record.result.rows),
      );
    }
  }
}

/**
 * Rewrites `<resultsDir>/results.md` from every scenario JSON there, in
 * `order`; on full runs also the README block. Returns the results.md path.
 *
 * @example
 * writeSummary(opts, ["unary", "rest"]);
 */
export function writeSummary(opts: BenchOptions, order: readonly string[]): string {
  const records = readRecords(opts.resultsDir, order);
  const mdPath = join(opts.resultsDir, "results.md");
  const lines = [
    `# Benchmark results${opts.quick ? " (quick smoke run: not representative)" : ""}`,
    "",
    `Written by \`npm run bench\`; methodology in [bench/README.md](${relative(opts.resultsDir, join(repoRoot, "bench", "README.md"))}).`,
    "",
  ];
  for (const record of records) {
    lines.push(`## ${record.title}`, "", recordHeader(record), "");
    if (record.result) {
      lines.push(renderTable(record.result), "");
      for (const chart of record.result.charts) {
        const svg = relative(dirname(mdPath), join(opts.chartsDir, `${chart.file}.svg`));
        lines.push(`![${chart.title}](${svg})`, "");
      }
      for (const note of record.result.notes) lines.push(`- ${note}`);
      if (record.result.notes.length > 0) lines.push("");
      const checks = [
        ...new Set(
          record.result.rows.flatMap((r) => (r.verified ? [`${r.impl}: ${r.verified}`] : [])),
        ),
      ];
      if (checks.length > 0) lines.push("Checks:", "", ...checks.map((c) => `- ${c}`), "");
    } else {
      lines.push(`**Failed:** ${record.error ?? "unknown error"}`, "");
    }
  }
  writeFileSync(mdPath, lines.join("\n"));
  if (!opts.quick) rewriteReadme(records, opts);
  return mdPath;
}

function recordHeader(record: ScenarioRecord): string {
  const m = record.machine;
  const s = record.settings;
  return (
    `Measured ${record.date.slice(0, 16).replace("T", " ")} UTC on ${m.cpuModel} ` +
    `(${m.cpuCount} CPUs), Node ${m.node}, ${m.h2load}; server on CPU ${s.serverCpu}, ` +
    `load on CPU ${s.loadCpu}; median of ${s.repeats} × ${s.durationSec} s after ${s.warmupSec} s warm-up.`
  );
}

/**
 * Every scenario record (JSON file) in `dir`, in `order` (others after, by id).
 *
 * @example
 * const records = readRecords("bench/results", ["unary", "rest"]);
 */
export function readRecords(dir: string, order: readonly string[]): ScenarioRecord[] {
  if (!existsSync(dir)) return [];
  const records = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as ScenarioRecord)
    .filter((r) => typeof r.id === "string" && typeof r.title === "string");
  const rank = (id: string) => {
    const i = order.indexOf(id);
    return i < 0 ? order.length : i;
  };
  return records.sort((a, b) => rank(a.id) - rank(b.id) || a.id.localeCompare(b.id));
}

/**
 * One markdown table: case, implementation, the scenario's columns, and the
 * ratio to the reference ("reference" on reference rows).
 *
 * @example
 * console.log(renderTable(result));
 */
export function renderTable(result: ScenarioResult): string {
  const references = new Set(result.rows.flatMap((r) => (r.reference ? [r.reference] : [])));
  const withRatio = references.size > 0;
  const header = ["Case", "Implementation", ...result.columns.map((c) => c.label)];
  if (withRatio) header.push("Ratio to reference");
  const align = ["---", "---", ...result.columns.map(() => "---:"), ...(withRatio ? ["---:"] : [])];
  const body = result.rows.map((row) => {
    const cells = [
      row.case,
      row.impl,
      ...result.columns.map((c) => formatValue(row.metrics[c.metric], c.digits)),
    ];
    if (withRatio) cells.push(ratioCell(row, references));
    return `| ${cells.map(escapeCell).join(" | ")} |`;
  });
  return [`| ${header.join(" | ")} |`, `| ${align.join(" | ")} |`, ...body].join("\n");
}

function ratioCell(row: BenchRow, references: ReadonlySet<string>): string {
  // JSON turns NaN and Infinity into null: only finite ratios are shown.
  if (typeof row.ratio === "number" && Number.isFinite(row.ratio) && row.reference) {
    return `${row.ratio.toFixed(2)}× ${row.reference} (${row.ratioMetric ?? ""})`;
  }
  return references.has(row.impl) ? "reference" : "";
}

function formatValue(v: number | null | undefined, digits: number | undefined): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "";
  return v.toFixed(digits ?? (Math.abs(v) >= 100 ? 0 : 2));
}

function escapeCell(s: string): string {
  return s.replaceAll("|", "\\|");
}

/** Replaces the README block between the markers with tables and chart links. */
function rewriteReadme(records: readonly ScenarioRecord[], opts: BenchOptions): void {
  const readmePath = join(repoRoot, "README.md");
  const next = replaceReadmeBlock(readFileSync(readmePath, "utf8"), records, opts);
  if (next === undefined) {
    opts.log(`README.md has no ${beginMarker} … ${endMarker} block: not updated`);
    return;
  }
  writeFileSync(readmePath, next);
}

/**
 * `readme` with the block between the markers replaced by one table and the
 * charts per scenario (paths relative to the repository root); undefined
 * when the markers are missing.
 *
 * @example
 * const next = replaceReadmeBlock(readFileSync("README.md", "utf8"), records, opts);
 */
export function replaceReadmeBlock(
  readme: string,
  records: readonly ScenarioRecord[],
  opts: Pick<BenchOptions, "resultsDir" | "chartsDir">,
): string | undefined {
  const begin = readme.indexOf(beginMarker);
  const end = readme.indexOf(endMarker);
  if (begin < 0 || end < begin) return undefined;
  const lines = [
    beginMarker,
    "",
    "<!-- Written by `npm run bench` (bench/lib/report.ts); edit outside the markers. -->",
    "",
  ];
  for (const record of records) {
    if (!record.result) continue;
    lines.push(`### ${record.title}`, "", recordHeader(record), "", renderTable(record.result), "");
    for (const chart of record.result.charts) {
      const svg = relative(repoRoot, join(opts.chartsDir, `${chart.file}.svg`));
      lines.push(`![${chart.title}](${svg})`, "");
    }
  }
  const results = relative(repoRoot, join(opts.resultsDir, "results.md"));
  lines.push(`Notes and checks: [${results}](${results}).`, "", endMarker);
  return readme.slice(0, begin) + lines.join("\n") + readme.slice(end + endMarker.length);
}
