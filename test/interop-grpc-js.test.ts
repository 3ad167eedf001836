/**
 * gRPC interop cases (grpc/grpc doc/interop-test-descriptions.md) against
 * grpc.testing.TestService mounted on Switchboard's own server stack, with
 * the independent @grpc/grpc-js client. Guards every change to the server
 * stack (listener, request handler, interceptors, auth gate).
 */
import { after, before, describe, it } from "node:test";
import { interopCaseNames } from "./interop/cases.js";
import { runGrpcJsCase } from "./interop/grpc-js-cases.js";
import { type InteropServer, startInteropServer } from "./interop/start-interop-server.js";

describe("gRPC interop cases with @grpc/grpc-js", { timeout: 120_000 }, () => {
  let server: InteropServer;
  before(async () => {
    server = await startInteropServer();
  });
  after(() => server?.close());

  for (const name of interopCaseNames) {
    it(`passes ${name}`, { timeout: 30_000 }, () =>
      runGrpcJsCase(name, { target: server.target, token: server.token }),
    );
  }
});
