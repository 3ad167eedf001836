#!/usr/bin/env node
/**
 * Compares two V8 heap snapshots (`.heapsnapshot`, e.g. written by
 * `node --heapsnapshot-signal=SIGUSR2`): objects grouped by kind and
 * constructor (or closure name), with the growth in count and self size from
 * the first snapshot to the second, largest first. With `--per N` the growth
 * is also shown per unit (per stream, per connection, ...).
 *
 *   node scripts/heap-diff.mjs before.heapsnapshot after.heapsnapshot [--per 10000] [--top 40]
 *
 * Self size only: what an object holds outside the V8 heap (nghttp2's
 * per-stream state, socket buffers) is not in a heap snapshot.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  options: { per: { type: "string" }, top: { type: "string", default: "40" } },
  allowPositionals: true,
});
if (positionals.length !== 2) {
  console.error("usage: heap-diff.mjs before.heapsnapshot after.heapsnapshot [--per N] [--top K]");
  process.exit(2);
}

/** Count and self size per "type name" group of one snapshot. */
function groups(file) {
  const snap = JSON.parse(readFileSync(file, "utf8"));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const { nodes, strings } = snap;
  const out = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = strings[nodes[i + iName]];
    // Strings, numbers and code are grouped by kind only: their "names" are their contents.
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "";
    if (type === "number" || type === "code" || type === "hidden" || type === "array") {
      name = name.length > 60 ? `${name.slice(0, 60)}…` : name;
    }
    const key = `${type}\t${name}`;
    const g = out.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += nodes[i + iSize];
    total += nodes[i + iSize];
    out.set(key, g);
  }
  return { out, total };
}

const a = groups(positionals[0]);
const b = groups(positionals[1]);
const per = values.per === undefined ? undefined : Number(values.per);
const rows = [];
for (const [key, g] of b.out) {
  const before = a.out.get(key) ?? { count: 0, size: 0 };
  const dSize = g.size - before.size;
  if (dSize <= 0) continue;
  const [type, name] = key.split("\t");
  rows.push({ type, name, dCount: g.count - before.count, dSize });
}
rows.sort((x, y) => y.dSize - x.dSize);
const growth = b.total - a.total;
const fmt = (bytes) =>
  per ? `${(bytes / per).toFixed(0)} B/unit` : `${(bytes / 1024).toFixed(1)} KiB`;
console.log(
  `heap self size ${(a.total / 1048576).toFixed(1)} → ${(b.total / 1048576).toFixed(1)} MiB, ` +
    `growth ${fmt(growth)}${per ? ` (${(growth / per / 1024).toFixed(2)} KiB per unit of ${per})` : ""}`,
);
console.log(`${"growth".padStart(14)} ${"share".padStart(6)} ${"count".padStart(10)}  type  name`);
for (const r of rows.slice(0, Number(values.top))) {
  const count = per ? (r.dCount / per).toFixed(2) : String(r.dCount);
  console.log(
    `${fmt(r.dSize).padStart(14)} ${((100 * r.dSize) / growth).toFixed(1).padStart(5)}% ${count.padStart(10)}  ${r.type}  ${r.name}`,
  );
}
