/**
 * Room permission patterns: shell-style globs matched against whole room
 * names. `*` matches any run of characters (also none), `?` exactly one
 * character; every other character matches only itself. Room names may
 * contain `.`, `:`, `@` and `-`, which are literal here (no regular
 * expressions are built, so no escaping is needed and no pattern can cause
 * catastrophic backtracking).
 *
 * @module
 */

/**
 * Tells whether one glob pattern matches the whole room name.
 *
 * Runs in O(pattern × room) time in the worst case.
 *
 * @example
 * matchPattern("team.*", "team.red"); // true
 * matchPattern("team.?", "team.ab"); // false
 */
export function matchPattern(pattern: string, room: string): boolean {
  const p = Array.from(pattern);
  const r = Array.from(room);
  let pi = 0;
  let ri = 0;
  // Position of the last `*` seen in the pattern and the room index it was tried at.
  let starPi = -1;
  let starRi = 0;
  while (ri < r.length) {
    const pc = p[pi];
    if (pi < p.length && (pc === "?" || pc === r[ri])) {
      pi++;
      ri++;
    } else if (pi < p.length && pc === "*") {
      starPi = pi++;
      starRi = ri;
    } else if (starPi !== -1) {
      // Let the last `*` swallow one more character and retry from there.
      pi = starPi + 1;
      ri = ++starRi;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}

/**
 * Tells whether any of the patterns matches the whole room name.
 *
 * @example
 * matchRoom(["lobby", "team.*"], "team.red"); // true
 * matchRoom([], "lobby"); // false
 */
export function matchRoom(patterns: readonly string[], room: string): boolean {
  return patterns.some((pattern) => matchPattern(pattern, room));
}
