/**
 * A small seeded PRNG (mulberry32) and the random helpers the generators use.
 * Every fuzz case gets its own generator, seeded from the run seed and the
 * case index, so a case is reproduced exactly by its seed and index no matter
 * how many cases run or in which order they finish.
 *
 * @module
 */

/** Random helpers over one deterministic stream. */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** n random bytes. */
  bytes(n: number): Uint8Array;
  /** A size, biased to small values and interesting boundaries, at most `max`. */
  size(max: number): number;
}

/** Mixes a run seed and a case index into a 32-bit case seed. */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Creates a generator for one 32-bit seed.
 *
 * @example
 * const rng = createRng(caseSeed(42, 7));
 * rng.int(10);
 */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)] as (typeof items)[number],
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    },
    size(max) {
      const r = next();
      if (r < 0.1) return 0;
      if (r < 0.5) return Math.min(max, int(16));
      if (r < 0.8) return Math.min(max, int(256));
      if (r < 0.9) return Math.min(max, [127, 128, 255, 256, 1023, 1024, 16384][int(7)] as number);
      return int(max + 1);
    },
  };
}

/** A fresh random 32-bit run seed. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
