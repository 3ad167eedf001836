/**
 * Small statistics for benchmark samples: median, percentiles, and the
 * ratio of each row to its case's reference row.
 *
 * @module
 */

import type { BenchRow } from "./types.js";

/**
 * The median (mean of the two middle values for an even count); NaN for none.
 *
 * @example
 * median([3, 1, 2]); // 2
 */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * The p-th percentile (0-100) with linear interpolation between the closest
 * ranks; NaN for an empty list. Sorts a copy.
 *
 * @example
 * percentile([1, 2, 3, 4], 50); // 2.5
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return percentileOfSorted(sorted, p);
}

/**
 * Like {@link percentile} for an already ascending array (no copy).
 *
 * @example
 * percentileOfSorted(Float64Array.of(1, 2, 3), 99); // 2.98
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/**
 * The arithmetic mean; NaN for none.
 *
 * @example
 * mean([1, 2, 3]); // 2
 */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Medians of each metric over repetitions: `[{rps: 1}, {rps: 3}, {rps: 2}]`
 * gives `{rps: 2}`. Metrics missing from some repetitions use the others.
 *
 * @example
 * medianMetrics([{ rps: 1, p99Ms: 5 }, { rps: 3, p99Ms: 4 }]); // { rps: 2, p99Ms: 4.5 }
 */
export function medianMetrics(
  repetitions: readonly Readonly<Record<string, number>>[],
): Record<string, number> {
  const names = new Set(repetitions.flatMap((r) => Object.keys(r)));
  const out: Record<string, number> = {};
  for (const name of names) {
    out[name] = median(
      repetitions.map((r) => r[name]).filter((v): v is number => typeof v === "number"),
    );
  }
  return out;
}

/** How {@link addRatios} compares rows with the reference. */
export interface RatioOptions {
  /** The `impl` of the reference row of every case. */
  readonly reference: string;
  /** Metric the ratio is taken of, e.g. "rps". */
  readonly metric: string;
  /** True for "lower is better" metrics (latency, memory): the ratio is reference / row. */
  readonly lowerIsBetter?: boolean;
}

/**
 * Returns the rows with `reference`, `ratio` and `ratioMetric` set on every
 * non-reference row whose case has a reference row (so > 1 always means
 * "better than the reference").
 *
 * @example
 * const rows = addRatios(measured, { reference: "grpc-js", metric: "rps" });
 */
export function addRatios(rows: readonly BenchRow[], opts: RatioOptions): BenchRow[] {
  return rows.map((row) => {
    if (row.impl === opts.reference) return row;
    const ref = rows.find((r) => r.case === row.case && r.impl === opts.reference);
    const value = row.metrics[opts.metric];
    const refValue = ref?.metrics[opts.metric];
    if (ref === undefined || value === undefined || refValue === undefined) return row;
    const ratio = opts.lowerIsBetter ? refValue / value : value / refValue;
    if (!Number.isFinite(ratio)) return row;
    return { ...row, reference: opts.reference, ratio, ratioMetric: opts.metric };
  });
}

/**
 * Ratio of `metric` of each row to another implementation's row of the same
 * case, e.g. a second reference shown as an extra column ("vs raw h2").
 * Undefined when that row or metric is missing.
 *
 * @example
 * const vsRaw = ratioTo(rows, row, "raw node:http2", "rps");
 */
export function ratioTo(
  rows: readonly BenchRow[],
  row: BenchRow,
  impl: string,
  metric: string,
): number | undefined {
  const other = rows.find((r) => r.case === row.case && r.impl === impl);
  const a = row.metrics[metric];
  const b = other?.metrics[metric];
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}
