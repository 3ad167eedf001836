/**
 * The label caches of src/observability/label-cache.ts: wrapped counters and
 * histograms expose exactly what unwrapped prom-client metrics expose, and
 * unusual calls still get prom-client's own checks.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { cacheCounterLabels, cacheHistogramLabels } from "../src/observability/label-cache.js";

function pair(wrap: boolean) {
  const registry = new Registry();
  const registers = [registry];
  let counter = new Counter({
    name: "c_total",
    help: "c",
    labelNames: ["service", "method", "code"],
    registers,
  });
  let histogram = new Histogram({
    name: "h_seconds",
    help: "h",
    labelNames: ["method", "protocol"],
    buckets: [0.001, 0.01, 0.1],
    registers,
  });
  let unlabeled = new Histogram({
    name: "u_seconds",
    help: "u",
    buckets: [0.005, 0.05, 0.5],
    registers,
  });
  if (wrap) {
    counter = cacheCounterLabels(counter);
    histogram = cacheHistogramLabels(histogram);
    unlabeled = cacheHistogramLabels(unlabeled);
  }
  return { registry, counter, histogram, unlabeled };
}

function exercise(m: ReturnType<typeof pair>): void {
  for (let i = 0; i < 50; i++) {
    m.counter.inc({ service: "S", method: i % 3 ? "A" : "B", code: i % 7 ? "ok" : "internal" });
    m.histogram.observe({ method: i % 2 ? "A" : "B", protocol: "grpc" }, i / 1000);
    m.unlabeled.observe(i / 100);
  }
  m.unlabeled.observe({}, 0.2);
  m.unlabeled.observe(7);
  m.counter.inc({ service: "S", method: "A", code: "ok" }, 2.5);
  m.counter.inc({ code: "ok", method: "C", service: "S" });
  m.counter.inc({ service: "S", method: "A" });
  m.histogram.observe({ method: "A", protocol: "grpc" }, 5);
  m.histogram.observe({ method: "A", protocol: "grpc" }, 0);
}

describe("label cache", () => {
  it("exposes the same series, counts, sums and buckets as prom-client alone", async () => {
    const plain = pair(false);
    const cached = pair(true);
    exercise(plain);
    exercise(cached);
    assert.equal(await cached.registry.metrics(), await plain.registry.metrics());
  });

  it("keeps prom-client's checks for unknown labels and bad values", () => {
    const { counter, histogram } = pair(true);
    counter.inc({ service: "S", method: "A", code: "ok" });
    assert.throws(() => counter.inc({ service: "S", method: "A", code: "ok", x: "1" } as never));
    assert.throws(() => counter.inc({ service: "S", method: "A", code: "ok" }, -1));
    assert.throws(() => histogram.observe({ method: "A", protocol: "grpc" }, Number.NaN));
    const { unlabeled } = pair(true);
    assert.throws(() => unlabeled.observe(Number.NaN));
    assert.throws(() => unlabeled.observe({ x: "1" } as never, 1));
  });

  it("follows reset and remove", async () => {
    const plain = pair(false);
    const cached = pair(true);
    for (const m of [plain, cached]) {
      exercise(m);
      m.counter.reset();
      m.histogram.remove({ method: "A", protocol: "grpc" });
      m.unlabeled.reset();
      exercise(m);
    }
    assert.equal(await cached.registry.metrics(), await plain.registry.metrics());
  });
});
