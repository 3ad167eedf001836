/**
 * HTTP/2 connection keepalive: finds dead peers and closes idle connections.
 *
 * - Every `intervalMs` the server sends a PING; a peer that does not answer
 *   within `timeoutMs` is considered dead and its connection destroyed, which
 *   ends its calls and releases their subscriptions. A peer behind a network
 *   that silently dropped it (no FIN, no RST) is found this way.
 * - A connection with no open stream for `idleTimeoutMs` is closed
 *   gracefully (GOAWAY).
 *
 * HTTP/1.1 connections have no PING; Node closes idle ones after its
 * keep-alive timeout (5 s).
 *
 * @module
 */
import type { ServerHttp2Session } from "node:http2";

/** Options of {@link watchSession}; 0 turns the interval or the idle timeout off. */
export interface KeepaliveOptions {
  /** PING interval in ms; 0 = no PING. */
  readonly intervalMs: number;
  /** How long a PING may stay unanswered, in ms. */
  readonly timeoutMs: number;
  /** Close the connection after this many ms without streams; 0 = never. */
  readonly idleTimeoutMs: number;
}

/**
 * Applies keepalive and the idle timeout to one server session until it closes.
 *
 * @example
 * h2server.on("session", (session) => watchSession(session, { intervalMs: 30_000, timeoutMs: 10_000, idleTimeoutMs: 300_000 }));
 */
export function watchSession(session: ServerHttp2Session, options: KeepaliveOptions): void {
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    timers.add(timer);
    return timer;
  };
  const clear = (timer: NodeJS.Timeout | undefined) => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timers.delete(timer);
  };
  const gone = () => session.closed || session.destroyed;

  let pinger: NodeJS.Timeout | undefined;
  if (options.intervalMs > 0) {
    let waiting = false;
    pinger = setInterval(() => {
      if (gone() || waiting) return;
      waiting = true;
      const deadline = later(options.timeoutMs, () => {
        if (!gone()) session.destroy(new Error("keepalive: peer did not answer a PING"));
      });
      const sent = session.ping((err) => {
        waiting = false;
        if (!err) clear(deadline);
      });
      if (!sent) {
        waiting = false;
        clear(deadline);
      }
    }, options.intervalMs);
    pinger.unref();
  }

  let streams = 0;
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (options.idleTimeoutMs <= 0) return;
    clear(idle);
    idle = later(options.idleTimeoutMs, () => {
      if (streams === 0 && !gone()) session.close();
    });
  };
  session.on("stream", (stream) => {
    streams++;
    clear(idle);
    idle = undefined;
    stream.once("close", () => {
      streams--;
      if (streams === 0) armIdle();
    });
  });
  armIdle();

  session.once("close", () => {
    clearInterval(pinger);
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  });
}
