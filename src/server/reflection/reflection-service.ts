/**
 * gRPC server reflection (`grpc.reflection.v1.ServerReflection` and the
 * older `grpc.reflection.v1alpha.ServerReflection`, still used by many
 * grpcurl and Postman versions): lets tools list the services and fetch
 * their schemas without a copy of the .proto files.
 *
 * One bidirectional stream answers each request in order. A file answer
 * carries the file and those of its transitive imports not yet sent on the
 * stream (like grpc-go). Lookups that find nothing answer with an
 * `error_response` of code NOT_FOUND (5) and the stream stays open; a
 * request with no known case gets INVALID_ARGUMENT (3). v1alpha messages
 * are field-for-field the same as v1, so v1alpha is served by converting
 * through the wire format.
 *
 * @module
 */

import { create, type DescFile, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import {
  type ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  type ServerReflection as ServerReflectionV1alpha,
  ServerReflectionRequestSchema as V1alphaRequestSchema,
  ServerReflectionResponseSchema as V1alphaResponseSchema,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { type DescriptorIndex, encodeFileWithImports } from "./descriptor-index.js";

/**
 * Answers one reflection request. `sent` holds the file names already sent
 * on this stream.
 *
 * @example
 * const res = answerReflectionRequest(index, req, new Set());
 */
export function answerReflectionRequest(
  index: DescriptorIndex,
  req: ServerReflectionRequest,
  sent: Set<string>,
): ServerReflectionResponse {
  const base = { validHost: req.host, originalRequest: req };
  const error = (errorCode: Code, errorMessage: string) =>
    create(ServerReflectionResponseSchema, {
      ...base,
      messageResponse: { case: "errorResponse", value: { errorCode, errorMessage } },
    });
  const files = (file: DescFile | undefined, what: string) =>
    file === undefined
      ? error(Code.NotFound, `${what} not found`)
      : create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: "fileDescriptorResponse",
            value: { fileDescriptorProto: encodeFileWithImports(file, sent) },
          },
        });
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "listServicesResponse",
          value: { service: index.serviceNames.map((name) => ({ name })) },
        },
      });
    case "fileByFilename":
      return files(index.fileByName(r.value), `file "${r.value}"`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(r.value), `symbol "${r.value}"`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = r.value;
      return files(
        index.fileContainingExtension(containingType, extensionNumber),
        `extension ${extensionNumber} of "${containingType}"`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbersOf(r.value);
      if (numbers === undefined) return error(Code.NotFound, `type "${r.value}" not found`);
      return create(ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: r.value.replace(/^\./, ""), extensionNumber: numbers },
        },
      });
    }
    default:
      return error(Code.InvalidArgument, "message_request: unknown or unset request kind");
  }
}

/**
 * Creates the v1 reflection service over `index()` (re-read per stream, so
 * services registered after the reflection service are listed too).
 *
 * @example
 * router.service(ServerReflection, createReflectionService(() => index));
 */
export function createReflectionService(
  index: () => DescriptorIndex,
): ServiceImpl<typeof ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      const current = index();
      const sent = new Set<string>();
      for await (const req of requests) yield answerReflectionRequest(current, req, sent);
    },
  };
}

/**
 * Creates the v1alpha reflection service: the v1 logic, with messages
 * converted through their (identical) wire format.
 *
 * @example
 * router.service(ServerReflectionV1alpha, createReflectionServiceV1alpha(() => index));
 */
export function createReflectionServiceV1alpha(
  index: () => DescriptorIndex,
): ServiceImpl<typeof ServerReflectionV1alpha> {
  return {
    async *serverReflectionInfo(requests) {
      const current = index();
      const sent = new Set<string>();
      for await (const alpha of requests) {
        const req = fromBinary(
          ServerReflectionRequestSchema,
          toBinary(V1alphaRequestSchema, alpha),
        );
        const res = answerReflectionRequest(current, req, sent);
        yield fromBinary(V1alphaResponseSchema, toBinary(ServerReflectionResponseSchema, res));
      }
    },
  };
}
