/**
 * Formatting for display: sizes, times, initials, avatar colours, ids.
 *
 * @module
 */

/**
 * A byte count as people read it.
 *
 * @example
 * formatBytes(1536); // "1.5 KB"
 */
export function formatBytes(n: number | bigint): string {
  const v = Number(n);
  if (v < 1000) return `${v} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let x = v / 1000;
  let i = 0;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${x >= 100 ? Math.round(x) : x.toFixed(1)} ${units[i]}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  month: "long",
  day: "numeric",
});

/** "14:05" */
export function formatTime(ms: number): string {
  return timeFormat.format(ms);
}

/** "12 Mar 2026, 14:05" */
export function formatFullTime(ms: number): string {
  return fullFormat.format(ms);
}

/** "Today", "Yesterday" or "Thursday, March 12". */
export function formatDay(ms: number, nowMs = Date.now()): string {
  const day = (t: number) => new Date(t).toDateString();
  if (day(ms) === day(nowMs)) return "Today";
  if (day(ms) === day(nowMs - 86_400_000)) return "Yesterday";
  return dayFormat.format(ms);
}

/** One or two letters for an avatar: "Ada Lovelace" → "AL", "Bob" → "B". */
export function initials(name: string): string {
  const words = name
    .trim()
    .split(/[\s._-]+/)
    .map((w) => w.replace(/^[^\p{L}\p{N}]+/u, ""))
    .filter(Boolean);
  const first = [...(words[0] ?? "?")][0] ?? "?";
  const second = words.length >= 2 ? ([...words[1]!][0] ?? "") : "";
  return (first + second).toUpperCase();
}

/** A stable hue (0-359) for a user id, so everyone sees the same colours. */
export function hueFor(id: string): number {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0) % 360;
}

/**
 * A random idempotency key. `crypto.randomUUID` only exists in secure
 * contexts; plain-http LAN addresses are not, so fall back to random bytes.
 */
export function newClientMessageId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** Room names the server accepts. */
export const roomNamePattern = /^[A-Za-z0-9._:@-]{1,128}$/;
