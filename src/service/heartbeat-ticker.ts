/**
 * One shared timer for the heartbeats of every open stream with the same
 * interval, instead of a timer per stream: a stream costs one set entry, and
 * sending an event costs one boolean store.
 *
 * Each stream registers a {@link HeartbeatMember}. The ticker runs every
 * `intervalMs / 8` while it has members. On each tick, a member that was
 * active since the previous tick (`active` set by the stream whenever its
 * consumer takes an event) is marked as seen now; a member not seen for at
 * least `intervalMs` is asked to `beat()`. So an idle stream gets its
 * heartbeat after between `intervalMs` and `intervalMs` + 2 ticks (≈ 1.25 ×
 * the interval) of idleness, never earlier; a busy stream never gets one.
 *
 * @module
 */

/** A stream as the ticker sees it. */
export interface HeartbeatMember {
  /** Set by the stream whenever its consumer takes an event; cleared by the ticker. */
  active: boolean;
  /** When the stream was last seen active (ms since the epoch); owned by the ticker after `add`. */
  lastActive: number;
  /**
   * Sends a heartbeat if the stream's consumer is waiting for an event
   * (returns true), otherwise does nothing (returns false: asked again on
   * the next tick).
   */
  beat(): boolean;
}

/** The ticker of one heartbeat interval. */
export interface HeartbeatTicker {
  readonly intervalMs: number;
  /** Number of registered members. */
  readonly size: number;
  /** Registers a member (its `lastActive` is its start time); starts the timer if needed. */
  add(member: HeartbeatMember): void;
  /** Unregisters a member; stops the timer when none is left. Idempotent. */
  delete(member: HeartbeatMember): void;
}

const tickers = new Map<number, HeartbeatTicker>();

/**
 * The process-wide ticker for `intervalMs` (created on first use).
 *
 * @example
 * const ticker = heartbeatTicker(15_000);
 * const member = { active: false, lastActive: Date.now(), beat: () => sendHeartbeat() };
 * ticker.add(member);
 * // … on every event taken: member.active = true; at the end:
 * ticker.delete(member);
 */
export function heartbeatTicker(intervalMs: number): HeartbeatTicker {
  let ticker = tickers.get(intervalMs);
  if (ticker === undefined) {
    ticker = createHeartbeatTicker(intervalMs);
    tickers.set(intervalMs, ticker);
  }
  return ticker;
}

/**
 * Creates a ticker (see the module comment). The timer keeps the process
 * alive while members are registered, like the per-stream timers it
 * replaces.
 *
 * @example
 * const ticker = createHeartbeatTicker(50);
 */
export function createHeartbeatTicker(intervalMs: number): HeartbeatTicker {
  const members = new Set<HeartbeatMember>();
  const periodMs = Math.max(1, Math.floor(intervalMs / 8));
  let timer: ReturnType<typeof setInterval> | undefined;

  const tick = () => {
    const now = Date.now();
    for (const member of members) {
      if (member.active) {
        member.active = false;
        member.lastActive = now;
      } else if (now - member.lastActive >= intervalMs) {
        try {
          if (member.beat()) member.lastActive = now;
        } catch {
          // A failing heartbeat must not stop the others; the stream retries next tick.
        }
      }
    }
  };

  return {
    intervalMs,
    get size() {
      return members.size;
    },
    add(member) {
      members.add(member);
      if (timer === undefined) timer = setInterval(tick, periodMs);
    },
    delete(member) {
      if (!members.delete(member) || members.size > 0 || timer === undefined) return;
      clearInterval(timer);
      timer = undefined;
    },
  };
}
