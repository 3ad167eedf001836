/**
 * gRPC interop cases (grpc/grpc doc/interop-test-descriptions.md) against
 * grpc.testing.TestService on Switchboard's own server stack, with the
 * independent Python grpcio client (gRPC C-core) in test/interop/python_client.py.
 * Fails — not skips — when Debian's python3-grpcio is missing.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type InteropCaseName, interopCaseNames } from "./interop/cases.js";
import { descriptorSetOf } from "./interop/descriptor-set.js";
import { file_grpc_testing_test } from "./interop/gen/grpc/testing/test_pb.js";
import { assertPythonGrpc, interopScript, runPython } from "./interop/python.js";
import { type InteropServer, startInteropServer } from "./interop/start-interop-server.js";

interface CaseResult {
  case: InteropCaseName;
  ok: boolean;
  error: string;
}

describe("gRPC interop cases with Python grpcio", { timeout: 180_000 }, () => {
  let server: InteropServer | undefined;
  let dir: string | undefined;
  let results: Promise<Map<string, CaseResult>>;
  before(async () => {
    await assertPythonGrpc();
    dir = await mkdtemp(join(tmpdir(), "switchboard-interop-"));
    const descriptors = join(dir, "test.binpb");
    await writeFile(descriptors, descriptorSetOf([file_grpc_testing_test]));
    server = await startInteropServer();
    const s = server;
    results = runPython(interopScript("python_client.py"), [
      "--port",
      String(s.port),
      "--token",
      s.token,
      "--descriptor-set",
      descriptors,
      "--cases",
      interopCaseNames.join(","),
    ]).then((out) => new Map((JSON.parse(out) as CaseResult[]).map((r) => [r.case, r])));
    results.catch(() => {});
  });
  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const name of interopCaseNames) {
    it(`passes ${name}`, async () => {
      const r = (await results).get(name);
      assert.ok(r, `the Python client reported no result for ${name}`);
      assert.ok(r.ok, `${name} failed in Python:\n${r.error}`);
    });
  }
});
