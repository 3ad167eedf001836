/**
 * Loads a service client constructor for @grpc/grpc-js from a .proto file
 * with @grpc/proto-loader — the independent client path (no protobuf-es).
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/**
 * Loads `file` (relative to `includeDir`) and returns the client
 * constructor of the fully-qualified `service`. Fields keep their proto
 * names (snake_case), enums are strings, oneofs name their case.
 *
 * @example
 * const Health = loadGrpcService("proto", "grpc/health/v1/health.proto", "grpc.health.v1.Health");
 */
export function loadGrpcService(
  includeDir: string,
  file: string,
  service: string,
): grpc.ServiceClientConstructor {
  const pkg = grpc.loadPackageDefinition(
    protoLoader.loadSync(file, {
      includeDirs: [includeDir],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  );
  const ctor = service
    .split(".")
    .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], pkg);
  if (typeof ctor !== "function") throw new Error(`${file} has no service ${service}`);
  return ctor as grpc.ServiceClientConstructor;
}
