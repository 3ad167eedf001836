/**
 * The bearer token benchmark clients use: user "bench", allowed to publish
 * and subscribe in every room.
 *
 * @module
 */

import { mintToken } from "../../src/auth/tokens.js";

/** The benchmark user's id. */
export const benchUser = "bench";

/**
 * Mints a one-day HS256 token for {@link benchUser} with `rooms: ["*"]`.
 *
 * @example
 * const token = await mintBenchToken(server.secret);
 */
export function mintBenchToken(secret: Uint8Array): Promise<string> {
  return mintToken(secret, { subject: benchUser, rooms: ["*"], ttlSeconds: 86_400 });
}
