#!/usr/bin/env node
// Summarises V8 .cpuprofile files (node --cpu-prof): self time per function
// and per package, ranked. Usage: node scripts/profile-summary.mjs <file|dir>... [--top N]
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 30;
const files = args.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => join(p, f))
    : [p],
);
const byFn = new Map();
const byPkg = new Map();
let total = 0;
for (const file of files) {
  const prof = JSON.parse(readFileSync(file, "utf8"));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  for (const [id, us] of self) {
    const { callFrame: f } = nodes.get(id);
    const url = f.url.replace(/^file:\/\//, "").replace(process.cwd(), ".");
    const where = url ? `${url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}` : "";
    const name = `${f.functionName || "(anonymous)"} ${where}`.trim();
    byFn.set(name, (byFn.get(name) ?? 0) + us);
    const pkg = url.includes("node_modules/")
      ? url
          .split("node_modules/")
          .pop()
          .split("/")
          .slice(0, url.includes("node_modules/@") ? 2 : 1)
          .join("/")
      : url.startsWith("node:")
        ? "node:internal"
        : url === ""
          ? `(${f.functionName || "native"})`
          : url.startsWith("./src")
            ? url.split("/").slice(0, 3).join("/")
            : "other";
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us);
    total += us;
  }
}
const show = (title, map, n) => {
  console.log(`\n${title} (of ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
};
show("self time by package", byPkg, 20);
show("self time by function", byFn, top);
