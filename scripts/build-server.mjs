#!/usr/bin/env node
// Compiles the server and CLI (src/cli/main.ts and everything it imports)
// into one ES module, dist/cli/switchboard.mjs, with esbuild: npm packages
// stay external, sources are mapped. bin/switchboard.js runs it when it is
// newer than every file under src/ (otherwise it compiles on the fly with
// tsx). The output sits two directories deep, like src/server/*.ts, so
// paths the code resolves from import.meta.url (web/dist) stay right.
//
// Why not tsx in production: tsx compiles with esbuild's keepNames, which
// wraps every function created at run time in a naming call — a cost on
// every request and a few KiB on every open stream.
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
await build({
  absWorkingDir: root,
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/cli/switchboard.mjs",
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
});
