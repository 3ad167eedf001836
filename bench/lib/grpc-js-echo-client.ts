/**
 * EchoService for @grpc/grpc-js, loaded from bench/proto with
 * @grpc/proto-loader: the service definition the grpc-js reference server
 * serves, and an independent client the scenarios check every gRPC server
 * with.
 *
 * @module
 */

import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadGrpcService } from "../../test/interop/load-grpc-service.js";
import { repoRoot } from "./proc.js";

/**
 * EchoService's client constructor (its `.service` is the server definition).
 *
 * @example
 * server.addService(loadEchoService().service, impl);
 */
export function loadEchoService(): grpc.ServiceClientConstructor {
  return loadGrpcService(
    join(repoRoot, "bench", "proto"),
    "switchboard/bench/v1/bench.proto",
    "switchboard.bench.v1.EchoService",
  );
}

/**
 * Calls Echo once with grpc-js over h2c and returns the echoed payload.
 *
 * @throws the grpc-js error (its `code` is the gRPC status) when the call fails.
 *
 * @example
 * const echoed = await grpcJsEcho(port, Buffer.from("hello world"), token);
 */
export async function grpcJsEcho(port: number, payload: Buffer, token?: string): Promise<Buffer> {
  const Echo = loadEchoService();
  const client = new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  try {
    return await new Promise<Buffer>((done, fail) => {
      client.echo(
        { payload },
        metadata,
        { deadline: Date.now() + 10_000 },
        (err: grpc.ServiceError | null, res?: { payload: Buffer }) => {
          if (err) fail(err);
          else done(res!.payload);
        },
      );
    });
  } finally {
    client.close();
  }
}
