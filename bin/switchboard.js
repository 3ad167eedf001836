#!/usr/bin/env node
// Entry point of the `switchboard` CLI: compiles the TypeScript sources on the
// fly with tsx, then runs src/cli/main.ts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
await main();
