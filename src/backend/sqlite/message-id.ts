/**
 * Ids of stored messages: time-ordered UUIDs (RFC 9562 version 7). The
 * `messages.id` column has a unique index; a random (version 4) id lands on
 * a random leaf page of that index, so every append of a group commit
 * dirtied its own page — one more WAL frame written per message, and more
 * pages copied back by each checkpoint. Ids that start with the time in
 * milliseconds are inserted at the index's right edge: the appends of one
 * commit share one or two pages.
 *
 * @module
 */

/**
 * A version 7 UUID for a message stored at `timeMs`: 48 bits of Unix time in
 * milliseconds, then 74 random bits (from `crypto.randomUUID`, whose version
 * nibble is replaced). Unique by its random bits; ordered by time only to
 * the millisecond (ids of the same millisecond are in random order).
 *
 * @example
 * timeOrderedId(Date.now()); // "019ab1c2-3d4e-7f01-8a2b-3c4d5e6f7081"
 */
export function timeOrderedId(timeMs: number): string {
  // "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx": keep from after the version nibble.
  const random = globalThis.crypto.randomUUID();
  const ms = Math.max(0, Math.floor(timeMs)).toString(16).padStart(12, "0").slice(-12);
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${random.slice(15)}`;
}
