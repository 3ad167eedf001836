/**
 * The methods the fast path serves: every unary and server-streaming method
 * registered on the router with the router's own options, keyed by request
 * path (`/<service>/<method>`), each with connect's serialization for the
 * method (the same parse and serialize functions, limits and error messages
 * connect's protocol handlers use).
 *
 * Services registered with per-service options (e.g. the interop test
 * service's compression tweaks) are not recorded: they differ from the
 * router's defaults, so the library serves them.
 *
 * @module
 */

import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import {
  type ConnectRouter,
  createServiceImplSpec,
  type MethodImplSpec,
  type ServiceImpl,
} from "@connectrpc/connect";
import {
  createMethodSerializationLookup,
  type MethodSerializationLookup,
} from "@connectrpc/connect/protocol";
import { createEnvelopeCache, type EnvelopeCache } from "./envelope-cache.js";
import { createUnaryInvoker, type UnaryInvoker } from "./invoke-unary.js";
import type { FastPathSettings } from "./settings.js";

/** A method the fast path can serve. */
export interface FastMethod {
  readonly spec: MethodImplSpec;
  readonly method: DescMethod;
  readonly service: DescService;
  readonly serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  /** Output envelopes, binary and JSON, with encode-once for shared payloads. */
  readonly envelopes: { readonly binary: EnvelopeCache; readonly json: EnvelopeCache };
  /** Unary methods: the interceptors and the implementation, composed once (invoke-unary.ts). */
  readonly invoke: UnaryInvoker | undefined;
}

/** Fast-path methods by request path. */
export interface MethodTable {
  /** Records the unary and server-streaming methods of a service. */
  register(service: DescService, impl: Partial<ServiceImpl<DescService>>): void;
  lookup(path: string): FastMethod | undefined;
}

/**
 * Creates an empty method table for the given effective handler settings.
 *
 * @example
 * const table = createMethodTable(settings);
 * table.register(ChatService, impl);
 */
export function createMethodTable(settings: FastPathSettings): MethodTable {
  const byPath = new Map<string, FastMethod>();
  return {
    register(service, impl) {
      const spec = createServiceImplSpec(service, impl);
      for (const methodSpec of Object.values(spec.methods)) {
        if (methodSpec.kind !== "unary" && methodSpec.kind !== "server_streaming") continue;
        const method = methodSpec.method;
        const serialization = createMethodSerializationLookup(
          method,
          settings.binaryOptions,
          settings.jsonOptions,
          settings,
        );
        byPath.set(`/${service.typeName}/${method.name}`, {
          spec: methodSpec,
          method,
          service,
          serialization,
          envelopes: {
            binary: createEnvelopeCache(method.output, serialization.getO(true)),
            json: createEnvelopeCache(method.output, serialization.getO(false)),
          },
          invoke:
            methodSpec.kind === "unary"
              ? createUnaryInvoker(methodSpec, settings.interceptors)
              : undefined,
        });
      }
    },
    lookup: (path) => byPath.get(path),
  };
}

/**
 * Wraps a router so that every `service()` registered without options is
 * also recorded in `table`; everything else passes through unchanged.
 *
 * @example
 * routes: (router) => registerAll(recordingRouter(router, table))
 */
export function recordingRouter(router: ConnectRouter, table: MethodTable): ConnectRouter {
  return {
    get handlers() {
      return router.handlers;
    },
    service(service, impl, options) {
      router.service(service, impl, options);
      if (options === undefined) table.register(service, impl as Partial<ServiceImpl<DescService>>);
      return this;
    },
    rpc(method, impl, options) {
      router.rpc(method, impl, options);
      return this;
    },
  } as ConnectRouter;
}
