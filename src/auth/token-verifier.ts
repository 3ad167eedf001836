/**
 * Token verification for the request path: {@link verifyToken} behind a
 * bounded cache of tokens already verified, and with the HS256 key imported
 * once instead of once per call.
 *
 * A cache hit is keyed by the whole token string, so it can only return
 * what verifying that exact string returned before; the time claims are
 * checked again on every hit (an expired token fails with "token expired"
 * as it would uncached). Only successes are cached, at most `maxEntries`
 * tokens (the oldest is dropped first), and the users handed out are
 * frozen, so a handler cannot change another call's user.
 *
 * @module
 */

import { createSecretKey, type KeyObject } from "node:crypto";
import type { AuthenticatedUser } from "../service/context-values.js";
import { minSecretBytes, TokenError, verifyTokenClaims } from "./tokens.js";

/** Options of {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** Seconds of clock skew accepted on `exp` and `nbf`. Default 5 (as verifyToken). */
  readonly clockToleranceSec?: number;
  /** Tokens kept verified. Default 10,000. */
  readonly maxEntries?: number;
  /** The clock, in milliseconds (tests). Default Date.now. */
  readonly now?: () => number;
}

/** Verifies tokens; see the module comment. */
export type TokenVerifier = (token: string) => Promise<AuthenticatedUser>;

interface Entry {
  readonly user: AuthenticatedUser;
  /** `exp` in seconds. */
  readonly exp: number;
}

/**
 * Creates a verifier for tokens signed with `secret`.
 *
 * @throws TokenError from the returned function, as verifyToken does.
 *
 * @example
 * const verify = createTokenVerifier(secret);
 * const user = await verify(token);
 */
export function createTokenVerifier(
  secret: Uint8Array,
  opts: TokenVerifierOptions = {},
): TokenVerifier {
  if (!(secret instanceof Uint8Array) || secret.byteLength < minSecretBytes) {
    throw new RangeError(`secret: must be at least ${minSecretBytes} bytes`);
  }
  const key: KeyObject = createSecretKey(secret);
  const tolerance = opts.clockToleranceSec ?? 5;
  const maxEntries = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Entry>();
  return async (token) => {
    const hit = cache.get(token);
    if (hit !== undefined) {
      if (hit.exp > Math.floor(now() / 1000) - tolerance) return hit.user;
      cache.delete(token);
      throw new TokenError("expired");
    }
    const { user, exp } = await verifyTokenClaims(key, token, { clockToleranceSec: tolerance });
    const frozen = freezeUser(user);
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(token, { user: frozen, exp });
    return frozen;
  };
}

function freezeUser(user: AuthenticatedUser): AuthenticatedUser {
  Object.freeze(user.publish);
  Object.freeze(user.subscribe);
  return Object.freeze(user);
}
