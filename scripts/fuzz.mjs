#!/usr/bin/env node
// On-demand fuzzing of a real server (see README, "Fuzzing"):
//   npm run fuzz -- --seed 123 --cases 50000      a long run
//   npm run fuzz -- --seed 123 --cases 5000 --case 42   replay one case
// Compiles the TypeScript harness on the fly with tsx, like bin/switchboard.js.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../test/fuzz/main.ts");
process.exitCode = await main(process.argv.slice(2));
