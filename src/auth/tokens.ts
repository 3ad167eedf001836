/**
 * Bearer tokens: HS256 JWTs issued by `switchboard`.
 *
 * Claims: `sub` (user id), `name` (display name, optional),
 * `rooms: { pub: string[], sub: string[] }` (room glob patterns, see
 * `room-pattern.ts`), `iat`, `exp` (required), `nbf` (optional, honoured),
 * `iss: "switchboard"`.
 *
 * @module
 */

import type { KeyObject } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import type { AuthenticatedUser } from "../service/context-values.js";

/** Issuer written into and required from every token. */
export const tokenIssuer = "switchboard";

/** Minimum secret length in bytes. */
export const minSecretBytes = 32;

/** Default token lifetime: one day. */
export const defaultTtlSeconds = 86_400;

/** What a token grants. */
export interface MintClaims {
  /** User id (`sub`). Must not be empty. */
  subject: string;
  /** Display name; the subject is used when absent. */
  name?: string;
  /** Room patterns the user may publish to. */
  publish?: string[];
  /** Room patterns the user may subscribe to. */
  subscribe?: string[];
  /** Room patterns added to both `publish` and `subscribe`. */
  rooms?: string[];
  /** Lifetime in seconds from now. Default 86400 (one day). */
  ttlSeconds?: number;
  /** Unix time in seconds before which the token is not valid (`nbf`). */
  notBefore?: number;
}

/** Why a token was rejected. */
export type TokenErrorReason = "invalid" | "expired" | "not_yet_valid";

/**
 * A token could not be verified. The message is short and safe to show to
 * the caller; the underlying error, if any, is in `cause`.
 */
export class TokenError extends Error {
  override name = "TokenError";
  /** Why the token was rejected. */
  readonly reason: TokenErrorReason;
  constructor(reason: TokenErrorReason, options?: ErrorOptions) {
    super(reasonMessages[reason], options);
    this.reason = reason;
  }
}

const reasonMessages: Record<TokenErrorReason, string> = {
  invalid: "invalid token",
  expired: "token expired",
  not_yet_valid: "token not yet valid",
};

/**
 * Signs a token for the given claims.
 *
 * @throws RangeError when the secret is shorter than 32 bytes, the subject is
 * empty or the lifetime is not a positive number.
 *
 * @example
 * const token = await mintToken(secret, { subject: "ada", rooms: ["lobby", "team.*"] });
 */
export async function mintToken(secret: Uint8Array, claims: MintClaims): Promise<string> {
  assertSecret(secret);
  if (typeof claims.subject !== "string" || claims.subject === "") {
    throw new RangeError("subject: must not be empty");
  }
  const ttl = claims.ttlSeconds ?? defaultTtlSeconds;
  if (!Number.isFinite(ttl) || ttl <= 0) {
    throw new RangeError("ttlSeconds: must be a positive number");
  }
  const both = claims.rooms ?? [];
  const pub = unique([...both, ...(claims.publish ?? [])]);
  const sub = unique([...both, ...(claims.subscribe ?? [])]);
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    ...(claims.name !== undefined ? { name: claims.name } : {}),
    rooms: { pub, sub },
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(tokenIssuer)
    .setSubject(claims.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil(ttl));
  if (claims.notBefore !== undefined) jwt.setNotBefore(claims.notBefore);
  return jwt.sign(secret);
}

/**
 * Verifies a token and returns the user it names.
 *
 * Only HS256 with the given secret and issuer `switchboard` is accepted; `exp`
 * and `sub` are required, `nbf` is honoured. `clockToleranceSec` (default 5)
 * absorbs clock skew for `exp` and `nbf`.
 *
 * @throws TokenError with reason "expired", "not_yet_valid" or "invalid".
 *
 * @example
 * const user = await verifyToken(secret, token);
 * user.publish; // ["lobby", "team.*"]
 */
export async function verifyToken(
  secret: Uint8Array,
  token: string,
  opts?: { clockToleranceSec?: number },
): Promise<AuthenticatedUser> {
  assertSecret(secret);
  return (await verifyTokenClaims(secret, token, opts)).user;
}

/**
 * {@link verifyToken} for a key already imported (`createSecretKey(secret)`,
 * at least 32 bytes), also returning the token's `exp` (Unix seconds).
 *
 * @throws TokenError with reason "expired", "not_yet_valid" or "invalid".
 *
 * @example
 * const { user, exp } = await verifyTokenClaims(createSecretKey(secret), token);
 */
export async function verifyTokenClaims(
  key: Uint8Array | KeyObject,
  token: string,
  opts?: { clockToleranceSec?: number },
): Promise<{ user: AuthenticatedUser; exp: number }> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      issuer: tokenIssuer,
      requiredClaims: ["exp", "sub"],
      clockTolerance: opts?.clockToleranceSec ?? 5,
    }));
  } catch (e) {
    throw new TokenError(reasonOf(e), { cause: e });
  }
  return { user: userFromPayload(payload), exp: payload.exp as number };
}

function reasonOf(e: unknown): TokenErrorReason {
  if (e instanceof errors.JWTExpired) return "expired";
  if (e instanceof errors.JWTClaimValidationFailed && e.claim === "nbf") return "not_yet_valid";
  return "invalid";
}

function userFromPayload(payload: Record<string, unknown>): AuthenticatedUser {
  const { sub, name, rooms } = payload;
  if (typeof sub !== "string" || sub === "") throw new TokenError("invalid");
  if (name !== undefined && typeof name !== "string") throw new TokenError("invalid");
  let publish: string[] = [];
  let subscribe: string[] = [];
  if (rooms !== undefined) {
    if (typeof rooms !== "object" || rooms === null) throw new TokenError("invalid");
    const r = rooms as Record<string, unknown>;
    publish = stringList(r.pub);
    subscribe = stringList(r.sub);
  }
  return { id: sub, name: name || sub, publish, subscribe };
}

function stringList(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new TokenError("invalid");
  }
  return value;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function assertSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.byteLength < minSecretBytes) {
    throw new RangeError(`secret: must be at least ${minSecretBytes} bytes`);
  }
}
