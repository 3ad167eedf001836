#!/usr/bin/env node
// Entry point of the `switchboard` CLI. Runs the compiled build
// (dist/cli/switchboard.mjs, made by `npm run build:server`, which `npm ci`
// runs) when it is newer than every source file under src/; otherwise
// compiles the TypeScript sources on the fly with tsx, so a checkout being
// edited always runs what is on disk.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = `${root}dist/cli/switchboard.mjs`;

/** The newest modification time of any file under `dir`. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    const time = entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
    if (time > latest) latest = time;
  }
  return latest;
}

if (existsSync(built) && statSync(built).mtimeMs >= newest(`${root}src`)) {
  const { main } = await import(built);
  await main();
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("../src/cli/main.ts");
  await main();
}
