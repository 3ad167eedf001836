/**
 * Seeded fuzzing of a real server (in a child process) with bad input on
 * every layer: HTTP/1.1 bytes, HTTP/2 frames, gRPC/gRPC-Web/Connect framing
 * and protobuf bodies. Each category's oracle is documented in
 * test/fuzz/*-categories.ts and in the README ("Fuzzing").
 *
 * SWITCHBOARD_FUZZ_CASES sets the number of cases (default 4000),
 * SWITCHBOARD_FUZZ_SEED the seed (default: random, printed). A failure
 * prints `npm run fuzz -- --seed N --cases M --case I` to replay it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { replayHint, runFuzz } from "./fuzz/harness.js";
import { createLiveness, type Liveness } from "./fuzz/liveness.js";
import { randomSeed } from "./fuzz/prng.js";
import { type FuzzServer, startFuzzServer } from "./fuzz/server-process.js";

const cases = Number(process.env.SWITCHBOARD_FUZZ_CASES || 4000);
const seed = Number(process.env.SWITCHBOARD_FUZZ_SEED || randomSeed());
/** The server's heap after a full GC must stay below this (it holds the fuzz Sends in memory). */
const maxHeapMiB = 256;

describe("fuzzing the server with bad input", () => {
  let server: FuzzServer | undefined;
  let live: Liveness | undefined;

  before(async () => {
    server = await startFuzzServer();
    live = createLiveness(server.url, server.token);
  });
  after(async () => {
    live?.close();
    await server?.close();
  });

  it(`answers ${cases} seeded bad-input cases with each category's documented code, never crashes, and keeps serving Send to connect-node and grpc-js`, {
    timeout: 300_000,
  }, async (t) => {
    assert.ok(server && live);
    assert.ok(
      Number.isSafeInteger(cases) && cases > 0,
      "SWITCHBOARD_FUZZ_CASES must be a positive integer",
    );
    t.diagnostic(`seed ${seed} (${replayHint(seed, cases)})`);
    await live.check("before fuzzing");
    const report = await runFuzz(server, {
      seed,
      cases,
      checkAlive: (label) => (live as Liveness).check(label),
      log: (line) => t.diagnostic(line),
    });
    const rate = Math.round(report.cases / (report.ms / 1000));
    t.diagnostic(
      `${report.cases} cases in ${(report.ms / 1000).toFixed(1)} s (${rate} cases/s); per category ${JSON.stringify(report.perCategory)}`,
    );
    assert.deepEqual(
      report.failures,
      [],
      `seed ${seed}: ${report.failures.length} failure(s)\n\n${report.failures.join("\n\n")}`,
    );
    assert.equal(server.exited(), undefined, "the server child must still run");
    assert.equal(report.cases, cases);
    await live.check("after fuzzing", { fresh: true });
    const heap = report.heapMiB.at(-1) ?? 0;
    assert.ok(
      heap < maxHeapMiB,
      `server heap after GC ${heap} MiB (per batch: ${report.heapMiB.join(", ")})`,
    );
  });
});
