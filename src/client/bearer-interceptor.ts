/**
 * The interceptor that authenticates every call. Transport-agnostic.
 *
 * @module
 */
import type { Interceptor } from "@connectrpc/connect";

/**
 * Creates an interceptor that sets `Authorization: Bearer <token>` on every
 * request. `token` may be a function, to pick up a refreshed token per call.
 *
 * @example
 * createGrpcTransport({ baseUrl, interceptors: [createBearerInterceptor(token)] });
 */
export function createBearerInterceptor(token: string | (() => string)): Interceptor {
  return (next) => async (req) => {
    const value = typeof token === "function" ? token() : token;
    if (value !== "") req.header.set("Authorization", `Bearer ${value}`);
    return next(req);
  };
}
