import { createContextKey } from "@connectrpc/connect";

/**
 * The caller, as established by the server's auth interceptor from a verified
 * bearer token. Room permissions are glob patterns (`*` matches any run of
 * characters, `?` one character).
 */
export interface AuthenticatedUser {
  /** The token's subject. */
  readonly id: string;
  /** Display name; the subject when the token has none. */
  readonly name: string;
  /** Room patterns the user may publish (Send, Chat send, Upload room) to. */
  readonly publish: readonly string[];
  /** Room patterns the user may subscribe (Subscribe, Chat join, History) to. */
  readonly subscribe: readonly string[];
}

/**
 * Context value holding the authenticated user of the current call. It is
 * `undefined` only when no auth interceptor ran, which handlers treat as
 * Unauthenticated.
 *
 * @example
 * const user = ctx.values.get(kUser);
 */
export const kUser = createContextKey<AuthenticatedUser | undefined>(undefined, {
  description: "switchboard authenticated user",
});
