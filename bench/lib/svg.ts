/**
 * Grouped bar charts as standalone SVG, without dependencies: one group per
 * case, one bar per implementation, of one metric.
 *
 * @module
 */

import type { BenchRow, ChartSpec } from "./types.js";

const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"];

const width = 760;
const plotTop = 48;
const plotLeft = 72;
const plotRight = 16;
const plotHeight = 240;
const caseLabelHeight = 28;
const legendRowHeight = 20;

/**
 * Renders `spec.metric` of `rows` as a grouped bar chart. Rows without the
 * metric leave a gap. Each bar has a tooltip with its exact value.
 *
 * @example
 * writeFileSync("docs/bench/unary-rps.svg", renderBarChart(spec, result.rows));
 */
export function renderBarChart(spec: ChartSpec, rows: readonly BenchRow[]): string {
  const cases = unique(rows.map((r) => r.case));
  const impls = unique(rows.map((r) => r.impl));
  const values = rows.map((r) => r.metrics[spec.metric]).filter(isFiniteNumber);
  const top = niceCeiling(Math.max(0, ...values));
  const plotWidth = width - plotLeft - plotRight;
  const groupWidth = plotWidth / Math.max(1, cases.length);
  const barWidth = Math.min(48, (groupWidth * 0.8) / Math.max(1, impls.length));
  const legendColumns = Math.max(1, Math.min(impls.length, 3));
  const legendRows = Math.ceil(impls.length / legendColumns);
  const plotBottom = plotTop + plotHeight;
  const height = plotBottom + caseLabelHeight + legendRows * legendRowHeight + 12;
  const y = (v: number) => plotBottom - (top === 0 ? 0 : (v / top) * plotHeight);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img" aria-labelledby="title">`,
    `<title id="title">${escapeXml(spec.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
    `<text x="14" y="${plotTop + plotHeight / 2}" transform="rotate(-90 14 ${plotTop + plotHeight / 2})" text-anchor="middle" fill="#444">${escapeXml(spec.unit)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    const ty = y(v);
    out.push(
      `<line x1="${plotLeft}" x2="${width - plotRight}" y1="${ty}" y2="${ty}" stroke="${i === 0 ? "#444" : "#ddd"}"/>`,
      `<text x="${plotLeft - 6}" y="${ty + 4}" text-anchor="end" fill="#444">${formatCompact(v)}</text>`,
    );
  }
  cases.forEach((c, ci) => {
    const groupX = plotLeft + ci * groupWidth;
    const barsWidth = barWidth * impls.length;
    const firstX = groupX + (groupWidth - barsWidth) / 2;
    impls.forEach((impl, ii) => {
      const v = rows.find((r) => r.case === c && r.impl === impl)?.metrics[spec.metric];
      if (!isFiniteNumber(v)) return;
      const x = firstX + ii * barWidth;
      const by = y(v);
      out.push(
        `<rect x="${round(x + 1)}" y="${round(by)}" width="${round(barWidth - 2)}" height="${round(plotBottom - by)}" fill="${color(ii)}"><title>${escapeXml(`${impl}, ${c}: ${formatExact(v)} ${spec.unit}`)}</title></rect>`,
      );
      if (barWidth >= 26) {
        out.push(
          `<text x="${round(x + barWidth / 2)}" y="${round(by - 4)}" text-anchor="middle" font-size="10" fill="#333">${formatCompact(v)}</text>`,
        );
      }
    });
    out.push(
      `<text x="${round(groupX + groupWidth / 2)}" y="${plotBottom + 18}" text-anchor="middle">${escapeXml(c)}</text>`,
    );
  });
  const columnWidth = (width - plotLeft) / legendColumns;
  impls.forEach((impl, ii) => {
    const lx = plotLeft + (ii % legendColumns) * columnWidth;
    const ly = plotBottom + caseLabelHeight + Math.floor(ii / legendColumns) * legendRowHeight;
    out.push(
      `<rect x="${round(lx)}" y="${ly}" width="12" height="12" fill="${color(ii)}"/>`,
      `<text x="${round(lx + 18)}" y="${ly + 10}">${escapeXml(impl)}</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}

function color(i: number): string {
  return palette[i % palette.length]!;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function isFiniteNumber(v: number | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

/** The smallest 1, 2, 2.5 or 5 × 10^k at or above `v` (the axis maximum). */
function niceCeiling(v: number): number {
  if (v <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= v) return step * magnitude;
  }
  return 10 * magnitude;
}

/** 12345 → "12.3k", 0.25 → "0.25". */
function formatCompact(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 1e6) return `${trim(v / 1e6)}M`;
  if (abs >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v: number): string {
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return String(Number(v.toFixed(digits)));
}

function formatExact(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : String(Number(v.toPrecision(4)));
}

function escapeXml(s: string): string {
  return s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}
