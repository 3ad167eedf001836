/**
 * The benchmark harness's contracts: what a scenario receives, what it
 * returns, and how results are written (see report.ts) and charted (svg.ts).
 *
 * Every figure is measured in the same run as its reference, on the same
 * machine: the server under test on {@link BenchOptions.serverCpu}, the load
 * generator on {@link BenchOptions.loadCpu} (taskset).
 *
 * @module
 */

/** Options of one `npm run bench` run. */
export interface BenchOptions {
  /** `--quick`: a short smoke run (CI) — fewer repeats, short durations, small sizes. */
  readonly quick: boolean;
  /** CPU the server under test is pinned to (taskset -c). Default 0. */
  readonly serverCpu: number;
  /** CPU the load generator is pinned to. Default 1. */
  readonly loadCpu: number;
  /** Measured repetitions per case; the report shows the median. 3 (quick: 1). */
  readonly repeats: number;
  /** Seconds of load per measured repetition. 5 (quick: 1). */
  readonly durationSec: number;
  /** Seconds of warm-up load before measuring each case. 3 (quick: 0.5). */
  readonly warmupSec: number;
  /** Where results go: bench/results (quick: bench/results/quick). */
  readonly resultsDir: string;
  /** Where charts go: docs/bench (quick: bench/results/quick). */
  readonly chartsDir: string;
  /** Progress lines for the console. */
  log(line: string): void;
}

/** One measured case of a scenario: one implementation under one condition. */
export interface BenchRow {
  /** The condition, e.g. "c8 m16", "1 KiB", "1000 subscribers @ 50k/s". */
  readonly case: string;
  /** What was measured, e.g. "switchboard gRPC h2c", "grpc-js", "raw node:http2". */
  readonly impl: string;
  /** Metric name → median value, e.g. { rps: 25000, p50Ms: 1.2, p99Ms: 4.5 }. */
  readonly metrics: Readonly<Record<string, number>>;
  /**
   * The `impl` of the reference row of the same case this row is compared
   * with (absent on reference rows), and the ratio of `ratioMetric`
   * (this / reference; for "lower is better" metrics reference / this, so
   * > 1 always means better than the reference).
   */
  readonly reference?: string;
  readonly ratio?: number;
  readonly ratioMetric?: string;
  /** Every repetition's value of the main metric, for the JSON file. */
  readonly samples?: readonly number[];
  /** Correctness check done outside the load run (e.g. grpc-status of a sample call). */
  readonly verified?: string;
}

/** A column of the markdown table. */
export interface BenchColumn {
  readonly metric: string;
  readonly label: string;
  /** Decimal places. */
  readonly digits?: number;
}

/** A bar chart: one group per case, one bar per impl, of one metric. */
export interface ChartSpec {
  /** File name without extension, e.g. "unary-rps" → docs/bench/unary-rps.svg. */
  readonly file: string;
  readonly title: string;
  readonly metric: string;
  readonly unit: string;
}

/** What a scenario returns. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly columns: readonly BenchColumn[];
  readonly rows: readonly BenchRow[];
  /** Sentences for the report: set-up, caveats, what the numbers mean. */
  readonly notes: readonly string[];
  readonly charts: readonly ChartSpec[];
}

/** A benchmark scenario (bench/scenarios/*.ts default-export one). */
export interface Scenario {
  /** Short id used by `--only`, e.g. "unary", "rest", "fanout", "transfer", "idle", "cluster". */
  readonly id: string;
  readonly title: string;
  run(opts: BenchOptions): Promise<ScenarioResult>;
}
