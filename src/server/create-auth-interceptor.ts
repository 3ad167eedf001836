/**
 * Authentication: every call needs `Authorization: Bearer <JWT>`. A verified
 * token puts the user into the call's context values under `kUser`;
 * anything else ends the call with `unauthenticated` and a short message.
 *
 * Two forms share one check: a request gate (used by the server; it runs
 * before the request body is read, so unauthenticated uploads cost nothing)
 * and an interceptor (for in-memory transports in tests).
 *
 * Exception: the gate lets calls of the services named in
 * `anonymousServices` through without a token and without a user. The
 * server passes exactly the standard endpoints — gRPC health
 * (`grpc.health.v1.Health`, for probes that carry no credentials) and
 * server reflection (it only describes the public schema); see
 * create-request-handler.ts.
 *
 * @module
 */

import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { createTokenVerifier, type TokenVerifier } from "../auth/token-verifier.js";
import { TokenError, verifyToken } from "../auth/tokens.js";
import { type AuthenticatedUser, kUser } from "../service/context-values.js";

/**
 * Context value set by a transport that has the request's headers at hand
 * (the fast path): one header's value as `Headers.get` gives it, so the gate
 * need not build the call's `Headers` just to read `authorization`.
 */
export const kHeaderValue = createContextKey<((name: string) => string | null) | undefined>(
  undefined,
  { description: "switchboard request header value" },
);

/**
 * Verifies the bearer token of a request's headers (or of the
 * `authorization` value itself), with the secret or with a caching verifier
 * (see auth/token-verifier.ts).
 *
 * @throws ConnectError with Code.Unauthenticated ("missing bearer token",
 * "invalid token", "token expired", "token not yet valid").
 */
export async function authenticate(
  secret: Uint8Array | TokenVerifier,
  header: Headers | string | null,
  clockToleranceSec?: number,
): Promise<AuthenticatedUser> {
  const value =
    typeof header === "string" || header === null ? header : header.get("authorization");
  const match = /^bearer[ \t]+([^\s]+)[ \t]*$/i.exec(value ?? "");
  if (match === null) {
    throw new ConnectError("missing bearer token", Code.Unauthenticated);
  }
  try {
    if (typeof secret === "function") return await secret(match[1]!);
    return await verifyToken(
      secret,
      match[1]!,
      clockToleranceSec === undefined ? undefined : { clockToleranceSec },
    );
  } catch (e) {
    const message = e instanceof TokenError ? e.message : "invalid token";
    throw new ConnectError(message, Code.Unauthenticated, undefined, undefined, e);
  }
}

/**
 * Creates a connect `requestGate` that authenticates each call before its
 * body is read and stores the user under `kUser`. Calls of services in
 * `anonymousServices` (fully-qualified names) pass unauthenticated.
 *
 * @example
 * connectNodeAdapter({ routes, requestGate: createAuthGate(secret) });
 * createAuthGate(secret, ["grpc.health.v1.Health"]);
 */
export function createAuthGate(
  secret: Uint8Array,
  anonymousServices: readonly string[] = [],
): (ctx: HandlerContext) => Promise<void> {
  const anonymous = new Set(anonymousServices);
  const verify = createTokenVerifier(secret);
  return async (ctx) => {
    if (anonymous.has(ctx.service.typeName)) return;
    const direct = ctx.values.get(kHeaderValue);
    const header = direct ? direct("authorization") : ctx.requestHeader;
    ctx.values.set(kUser, await authenticate(verify, header));
  };
}

/**
 * Creates an interceptor that authenticates each call and stores the user
 * under `kUser` in `req.contextValues`.
 *
 * @example
 * createRouterTransport(routes, { router: { interceptors: [createAuthInterceptor(secret)] } });
 */
export function createAuthInterceptor(secret: Uint8Array): Interceptor {
  const verify = createTokenVerifier(secret);
  return (next) => async (req) => {
    req.contextValues.set(kUser, await authenticate(verify, req.header));
    return next(req);
  };
}
