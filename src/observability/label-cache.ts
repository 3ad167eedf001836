/**
 * Per-call metric updates without prom-client's per-call label work.
 *
 * prom-client's `counter.inc(labels)` and `histogram.observe(labels, v)`
 * validate the label names and build the series key (a string such as
 * `code:ok,method:Echo,…`) on every call, and `observe` allocates a closure
 * and a pair object besides; with a handful of label combinations per
 * server that is the same work, and the same garbage, on every RPC. The
 * wrappers here remember, per combination of label values, the series key
 * and a copy of the labels, and update the series prom-client keeps
 * (`hashMap`) the way its own code does: same keys, same entry objects,
 * same exposition (a histogram without labels: its one series, updated
 * directly). Anything unusual — a label missing or unknown, a value
 * that is not a finite number, exemplars — goes to prom-client's own
 * method, which validates and throws as before.
 *
 * Tied to prom-client 15's internals (`hashMap`, `sortedLabelNames`,
 * `upperBounds`, `bucketValues`); test/metrics-label-cache.test.ts checks the
 * exposition against unwrapped metrics.
 *
 * @module
 */

import type { Counter, Histogram } from "prom-client";

type Labels = Record<string, string | number>;

/** One label combination: prom-client's series key and the labels it stores with the series. */
interface Series {
  readonly hash: string;
  readonly labels: Labels;
}

/** Series by label values, one Map level per label name (in `labelNames` order). */
type SeriesTree = Map<string | number, SeriesTree | Series>;

/** What the wrappers read of prom-client's metric objects. */
interface MetricInternals {
  readonly labelNames: readonly string[];
  readonly sortedLabelNames: readonly string[];
  readonly enableExemplars?: boolean;
  hashMap: Record<string, unknown>;
}

interface CounterInternals extends MetricInternals {
  inc: (labels?: unknown, value?: unknown) => unknown;
  hashMap: Record<string, { value: number; labels: Labels }>;
}

interface HistogramInternals extends MetricInternals {
  observe: (labels?: unknown, value?: unknown) => unknown;
  readonly upperBounds: readonly number[];
  readonly bucketValues: Readonly<Record<string, number>>;
  readonly bucketExemplars?: Readonly<Record<string, unknown>>;
  hashMap: Record<
    string,
    {
      labels: Labels;
      bucketValues: Record<string, number>;
      bucketExemplars?: Record<string, unknown>;
      sum: number;
      count: number;
    }
  >;
}

/**
 * Makes `counter.inc(labels, value?)` remember its series per label values.
 * Returns the same counter.
 *
 * @example
 * const handled = cacheCounterLabels(new Counter({ name, help, labelNames: ["code"] }));
 * handled.inc({ code: "ok" });
 */
export function cacheCounterLabels<T extends string>(counter: Counter<T>): Counter<T> {
  const metric = counter as unknown as CounterInternals;
  if (!cacheable(metric)) return counter;
  const original = metric.inc;
  const find = seriesFinder(metric);
  metric.inc = function inc(this: CounterInternals, labels?: unknown, value?: unknown) {
    const series =
      value === undefined || (typeof value === "number" && Number.isFinite(value) && value >= 0)
        ? find(labels)
        : undefined;
    if (series === undefined) return original.call(this, labels, value);
    const add = (value as number | undefined) ?? 1;
    const entry = this.hashMap[series.hash];
    if (entry !== undefined) entry.value += add;
    else this.hashMap[series.hash] = { value: add, labels: series.labels };
    return undefined;
  };
  return counter;
}

/**
 * Makes `histogram.observe(labels, value)` remember its series per label
 * values. Returns the same histogram.
 *
 * @example
 * const duration = cacheHistogramLabels(new Histogram({ name, help, labelNames: ["method"] }));
 * duration.observe({ method: "Echo" }, 0.001);
 */
export function cacheHistogramLabels<T extends string>(histogram: Histogram<T>): Histogram<T> {
  const metric = histogram as unknown as HistogramInternals;
  if (!Array.isArray(metric.upperBounds)) return histogram;
  if (cacheableUnlabeled(metric)) return cacheUnlabeled(histogram, metric);
  if (!cacheable(metric)) return histogram;
  const original = metric.observe;
  const find = seriesFinder(metric);
  metric.observe = function observe(this: HistogramInternals, labels?: unknown, value?: unknown) {
    const series = typeof value === "number" && Number.isFinite(value) ? find(labels) : undefined;
    if (series === undefined) {
      original.call(this, labels, value);
      return;
    }
    const v = value as number;
    let entry = this.hashMap[series.hash];
    if (entry === undefined) {
      entry = { labels: series.labels, bucketValues: { ...this.bucketValues }, sum: 0, count: 0 };
      if (this.bucketExemplars) entry.bucketExemplars = { ...this.bucketExemplars };
      this.hashMap[series.hash] = entry;
    }
    addObservation(entry, this.upperBounds, v);
  };
  return histogram;
}

type HistogramEntry = HistogramInternals["hashMap"][string];

/** Adds `v` to a series as prom-client's `observe` does: sum, count, its bucket. */
function addObservation(entry: HistogramEntry, bounds: readonly number[], v: number): void {
  entry.sum += v;
  entry.count += 1;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i]!;
    if (v <= bound) {
      if (Object.hasOwn(entry.bucketValues, bound)) entry.bucketValues[bound]! += 1;
      break;
    }
  }
}

/**
 * A histogram without labels: `observe(value)` updates its one series (key
 * `""`, as prom-client keys it) directly; prom-client would still build the
 * labels pair, a closure and the key on every call.
 */
function cacheUnlabeled<T extends string>(
  histogram: Histogram<T>,
  metric: HistogramInternals,
): Histogram<T> {
  const original = metric.observe;
  metric.observe = function observe(this: HistogramInternals, labels?: unknown, value?: unknown) {
    if (value !== undefined || typeof labels !== "number" || !Number.isFinite(labels)) {
      original.call(this, labels, value);
      return;
    }
    let entry = this.hashMap[""];
    if (entry === undefined) {
      entry = { labels: {}, bucketValues: { ...this.bucketValues }, sum: 0, count: 0 };
      this.hashMap[""] = entry;
    }
    addObservation(entry, this.upperBounds, labels);
  };
  return histogram;
}

/** Whether the histogram has no labels, no exemplars and the internals {@link cacheUnlabeled} uses. */
function cacheableUnlabeled(metric: MetricInternals): boolean {
  return (
    !metric.enableExemplars &&
    Array.isArray(metric.labelNames) &&
    metric.labelNames.length === 0 &&
    typeof metric.hashMap === "object" &&
    metric.hashMap !== null
  );
}

/**
 * Whether the metric has labels, no exemplars and the internals the wrappers
 * use; a prom-client whose internals differ keeps its own methods.
 */
function cacheable(metric: MetricInternals): boolean {
  return (
    !metric.enableExemplars &&
    Array.isArray(metric.labelNames) &&
    metric.labelNames.length > 0 &&
    Array.isArray(metric.sortedLabelNames) &&
    typeof metric.hashMap === "object" &&
    metric.hashMap !== null
  );
}

/**
 * The series of a labels object, or undefined when it is not exactly one
 * value (string or number) for each label name — prom-client judges those.
 */
function seriesFinder(metric: MetricInternals): (labels: unknown) => Series | undefined {
  const names = metric.labelNames;
  const root: SeriesTree = new Map();
  return (labels) => {
    if (typeof labels !== "object" || labels === null) return undefined;
    const record = labels as Labels;
    let count = 0;
    for (const _ in record) count++;
    if (count !== names.length) return undefined;
    let node: SeriesTree = root;
    for (let i = 0; i < names.length; i++) {
      const value = record[names[i]!];
      if (typeof value !== "string" && typeof value !== "number") return undefined;
      let next = node.get(value);
      if (next === undefined) {
        next = i === names.length - 1 ? newSeries(metric, record) : new Map();
        node.set(value, next);
      }
      if (i === names.length - 1) return next as Series;
      node = next as SeriesTree;
    }
    return undefined;
  };
}

/** prom-client's series key (hashObject with the sorted label names) and a copy of the labels. */
function newSeries(metric: MetricInternals, labels: Labels): Series {
  let hash = "";
  const copy: Labels = {};
  for (const name of metric.sortedLabelNames) {
    hash += `${name}:${labels[name]},`;
  }
  // In the caller's key order, as prom-client keeps the caller's object.
  for (const name in labels) copy[name] = labels[name]!;
  return Object.freeze({ hash, labels: copy });
}
