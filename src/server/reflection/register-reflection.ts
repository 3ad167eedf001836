/**
 * Mounts server reflection (v1 and v1alpha) on a connect router. The
 * services it describes are read from the router itself, so everything
 * served on the port — ChatService, health, reflection, and whatever is
 * registered later (tests mount grpc.testing.TestService) — is listed, and
 * nothing else.
 *
 * @module
 */

import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createDescriptorIndex, type DescriptorIndex } from "./descriptor-index.js";
import { createReflectionService, createReflectionServiceV1alpha } from "./reflection-service.js";

/** Fully-qualified names of the reflection services (they need no token). */
export const reflectionServiceNames: readonly string[] = Object.freeze([
  ServerReflection.typeName,
  ServerReflectionV1alpha.typeName,
]);

/**
 * Registers both reflection services on `router`.
 *
 * @example
 * connectNodeAdapter({ routes: (router) => { router.service(ChatService, impl); registerReflection(router); } });
 */
export function registerReflection(router: ConnectRouter): void {
  let cached: { count: number; index: DescriptorIndex } | undefined;
  const index = () => {
    const handlers = router.handlers;
    if (cached?.count !== handlers.length) {
      const services = new Set<DescService>(handlers.map((h) => h.service));
      cached = { count: handlers.length, index: createDescriptorIndex([...services]) };
    }
    return cached.index;
  };
  router.service(ServerReflection, createReflectionService(index));
  router.service(ServerReflectionV1alpha, createReflectionServiceV1alpha(index));
}
