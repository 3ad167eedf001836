/**
 * Bench processes run compiled JavaScript, not TypeScript compiled on the
 * fly: each entry point is bundled once per run with esbuild into
 * bench/.build/ (npm packages external), as scripts/build-server.mjs
 * compiles the product. tsx would compile with esbuild's keepNames, which
 * adds a naming call to every function created at run time — a per-request
 * cost that would weigh on every server measured, references included.
 * The output sits two directories deep, like src/server/*.ts, so paths
 * resolved from import.meta.url stay right.
 *
 * @module
 */

import { mkdirSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import { buildSync } from "esbuild";

const repoRoot = new URL("../..", import.meta.url).pathname;
const built = new Map<string, string>();

/**
 * The compiled file for `script` (absolute or relative to the repository
 * root), bundling it on first use in this process.
 *
 * @example
 * spawn(process.execPath, [compiledEntry("bench/servers/raw-h2-echo.ts")]);
 */
export function compiledEntry(script: string): string {
  const source = isAbsolute(script) ? script : join(repoRoot, script);
  const cached = built.get(source);
  if (cached !== undefined) return cached;
  const name = relative(repoRoot, source).replace(/\.ts$/, "").replace(/[/\\]/g, "__");
  const outDir = join(repoRoot, "bench", ".build");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${name}.mjs`);
  buildSync({
    entryPoints: [source],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    logLevel: "warning",
  });
  built.set(source, outfile);
  return outfile;
}
