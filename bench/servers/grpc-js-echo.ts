/**
 * The reference gRPC server: the benchmark's EchoService served by
 * @grpc/grpc-js, loaded from bench.proto with @grpc/proto-loader, over h2c.
 * No authentication (Switchboard verifies a JWT per call; this does not).
 *
 *   node --import tsx bench/servers/grpc-js-echo.ts [--port N]
 *
 * Prints `{"ready":true,"port":N}` when listening; exits on SIGTERM.
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { loadEchoService } from "../lib/grpc-js-echo-client.js";

const { values: flags } = parseArgs({ options: { port: { type: "string", default: "0" } } });

const server = new grpc.Server();
server.addService(loadEchoService().service, {
  echo: (
    call: grpc.ServerUnaryCall<{ payload: Buffer }, unknown>,
    done: grpc.sendUnaryData<unknown>,
  ) => done(null, { payload: call.request.payload }),
  echoItems: (
    call: grpc.ServerUnaryCall<{ items: unknown[] }, unknown>,
    done: grpc.sendUnaryData<unknown>,
  ) => done(null, { items: call.request.items }),
});
server.bindAsync(
  `127.0.0.1:${flags.port}`,
  grpc.ServerCredentials.createInsecure(),
  (err, port) => {
    if (err) throw err;
    process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
  },
);

function stop(): void {
  server.tryShutdown(() => process.exit(0));
  setTimeout(() => process.exit(0), 1_000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
