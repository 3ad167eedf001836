#!/usr/bin/env node
// The whole check behind `npm test`, in order, stopping at the first failure:
//   1. generated code is current (buf generate into a temp dir, compared with src/gen)
//   2. buf lint
//   3. buf breaking against the previous commit's schema
//   4. tsc --noEmit (and the web app: tsc -p web, vite build into web/dist; the server
//      build into dist/cli/switchboard.mjs)
//   5. biome check (format + lint)
//   6. every test file under test/ (node:test, real sockets)
//   7. the benchmark smoke run, `npm run bench -- --quick` (bench/README.md)
// Pass test file paths to run only those in step 6 (step 7 is then skipped):
// `npm test -- test/e2e-send.test.ts`.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
process.chdir(root);
const bin = (name) => join(root, "node_modules", ".bin", name);
const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` };

function step(title, fn) {
  const started = Date.now();
  process.stdout.write(`\n== ${title}\n`);
  try {
    fn();
  } catch (err) {
    console.error(`\nFAILED: ${title}${err?.message ? `\n${err.message}` : ""}`);
    process.exit(1);
  }
  console.log(`ok: ${title} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", env, ...opts });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}`);
}

function git(args) {
  return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

function listFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

// Each generated tree and the buf template that produces it (no template: buf.gen.yaml).
const generatedTrees = [
  { dir: "src/gen", template: undefined },
  // grpc.testing interop protos, used only by test/interop-*.test.ts
  { dir: "test/interop/gen", template: "test/interop/buf.gen.yaml" },
  // The benchmark's EchoService (bench/proto), used only by bench/
  { dir: "bench/gen", template: "bench/buf.gen.yaml" },
];

step("generated code is current (buf generate)", () => {
  for (const { dir, template } of generatedTrees) {
    const tmp = mkdtempSync(join(tmpdir(), "switchboard-gen-"));
    try {
      run(bin("buf"), ["generate", "-o", tmp, ...(template ? ["--template", template] : [])]);
      const fresh = join(tmp, dir);
      const want = listFiles(fresh)
        .map((f) => relative(fresh, f))
        .sort();
      const have = listFiles(dir)
        .map((f) => relative(dir, f))
        .sort();
      const problems = [];
      for (const f of want) {
        if (!have.includes(f)) problems.push(`missing: ${dir}/${f}`);
        else if (!readFileSync(join(fresh, f)).equals(readFileSync(join(dir, f))))
          problems.push(`stale: ${dir}/${f}`);
      }
      for (const f of have) if (!want.includes(f)) problems.push(`not generated: ${dir}/${f}`);
      if (problems.length > 0)
        throw new Error(`${problems.join("\n")}\nrun \`npm run generate\` and commit ${dir}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
});

step("buf lint", () => run(bin("buf"), ["lint"]));

step("buf breaking against the previous commit", () => {
  // With uncommitted schema changes, "previous" is HEAD; on a clean tree (CI) it is HEAD~1.
  let ref = "HEAD";
  const dirty = git(["status", "--porcelain", "--", "proto", "buf.yaml"]) !== "";
  if (!dirty) {
    try {
      git(["rev-parse", "--verify", "HEAD~1"]);
      ref = "HEAD~1";
    } catch {
      if (git(["rev-parse", "--is-shallow-repository"]) === "true")
        throw new Error("shallow clone: the previous commit is missing; clone with full history");
      console.log("HEAD is the first commit: there is no earlier schema to compare against");
      return;
    }
  }
  let previous = "";
  try {
    previous = git(["ls-tree", "-r", "--name-only", ref, "--", "proto"]);
  } catch {
    previous = "";
  }
  if (previous === "") {
    console.log(`${ref} has no proto/ directory: there is no earlier schema to compare against`);
    return;
  }
  console.log(`comparing against ${ref} (${git(["rev-parse", "--short", ref])})`);
  run(bin("buf"), ["breaking", "--against", `.git#ref=${ref}`]);
});

step("tsc --noEmit", () => run(bin("tsc"), ["--noEmit", "-p", "."]));

// The browser app (web/, its own tsconfig with the DOM lib) type-checks and builds into
// web/dist, which the server serves at `/` and test/web-*.test.ts drive in Chromium.
step("web app: tsc -p web, vite build", () => {
  run(bin("tsc"), ["--noEmit", "-p", "web"]);
  run(bin("vite"), ["build", "--config", "web/vite.config.ts", "--logLevel", "warn"]);
});

// The compiled server (dist/cli/switchboard.mjs) that bin/switchboard.js runs: the CLI
// tests spawn bin/switchboard.js, so they exercise the build users get.
step("server build (esbuild)", () => run(process.execPath, ["scripts/build-server.mjs"]));

step("biome check", () => run(bin("biome"), ["check", "."]));

step("tests", () => {
  const chosen = process.argv.slice(2);
  const files =
    chosen.length > 0
      ? chosen
      : readdirSync("test")
          .filter((f) => f.endsWith(".test.ts"))
          .sort()
          .map((f) => join("test", f));
  run(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...files]);
});

// The benchmark harness still works: every scenario once, briefly (numbers not checked).
// Skipped when only chosen test files run.
if (process.argv.length <= 2) {
  step("benchmark smoke run (npm run bench -- --quick)", () =>
    run(process.execPath, ["--import", "tsx", "bench/run.ts", "--quick"]),
  );
}

console.log("\nall checks passed");
