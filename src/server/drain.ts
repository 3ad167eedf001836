/**
 * Graceful shutdown of in-flight calls. Closing a server first ends
 * streaming calls (Subscribe, Chat, … would otherwise never finish) with
 * `unavailable`, lets other requests finish within a grace period, then
 * aborts whatever is left.
 *
 * @module
 */

import { setMaxListeners } from "node:events";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { kCallEnd } from "../service/call-end.js";
import { kStreamHooks, type StreamHooks } from "./fast/stream-hooks.js";
import { forMethodKinds } from "./interceptor-kinds.js";

/** Tracks in-flight requests and ends them on shutdown. */
export interface Drain {
  /** Links streaming calls to the "streams stop" signal. Put it in the interceptor list. */
  readonly interceptor: Interceptor;
  /** Pass as connect's `shutdownSignal`: aborts every call's `ctx.signal` when the grace ends. */
  readonly shutdownSignal: AbortSignal;
  /** True once `drain` was called. */
  readonly draining: boolean;
  /** Tracked requests whose response has not closed yet. */
  readonly inFlight: number;
  /** Counts a request until its response closes. Call for every request. */
  track(res: { on(event: "close", fn: () => void): unknown }): void;
  /**
   * Counts a call that is not an HTTP request (a WebSocket tunnel call) until
   * the returned function is called (idempotent).
   */
  trackCall(): () => void;
  /**
   * Ends streaming calls now, waits up to `graceMs` for every tracked request
   * to finish, then aborts the rest. Resolves when the grace is over or no
   * request is left. Idempotent.
   */
  drain(graceMs: number): Promise<void>;
}

/**
 * Creates the drain state of one server.
 *
 * @example
 * const drain = createDrain();
 * connectNodeAdapter({ routes, interceptors: [drain.interceptor], shutdownSignal: drain.shutdownSignal });
 */
export function createDrain(): Drain {
  const streamsStop = new AbortController();
  const shutdown = new AbortController();
  // Every call in flight listens to these: no "possible leak" warning past 10.
  setMaxListeners(0, streamsStop.signal, shutdown.signal);
  const shuttingDown = () => new ConnectError("server shutting down", Code.Unavailable);
  let inFlight = 0;
  let idle: (() => void) | undefined;
  let draining: Promise<void> | undefined;

  // Fast-path streaming calls (stream-hooks.ts): ended through a registry
  // instead of a linked AbortSignal per call.
  const liveStreams = new Set<StreamHooks>();
  const interceptor: Interceptor = (next) => async (req) => {
    if (req.method.methodKind === "unary") return next(req);
    const hooks = req.contextValues.get(kStreamHooks);
    const onEnd = req.contextValues.get(kCallEnd);
    if (hooks === undefined || onEnd === undefined) {
      return next({ ...req, signal: AbortSignal.any([req.signal, streamsStop.signal]) });
    }
    if (streamsStop.signal.aborted) hooks.abort(streamsStop.signal.reason);
    else {
      liveStreams.add(hooks);
      onEnd(() => liveStreams.delete(hooks));
    }
    return next(req);
  };

  function untrack(): void {
    inFlight--;
    if (inFlight === 0) idle?.();
  }

  async function drain(graceMs: number): Promise<void> {
    streamsStop.abort(shuttingDown());
    for (const hooks of [...liveStreams]) hooks.abort(streamsStop.signal.reason);
    if (inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        idle = resolve;
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
    }
    shutdown.abort(shuttingDown());
  }

  return {
    interceptor: forMethodKinds(
      ["server_streaming", "client_streaming", "bidi_streaming"],
      interceptor,
    ),
    shutdownSignal: shutdown.signal,
    get inFlight() {
      return inFlight;
    },
    get draining() {
      return draining !== undefined;
    },
    track(res) {
      inFlight++;
      // "close" is emitted once: one shared listener, no closure or once-wrapper per request.
      res.on("close", untrack);
    },
    trackCall() {
      inFlight++;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        inFlight--;
        if (inFlight === 0) idle?.();
      };
    },
    drain(graceMs) {
      draining ??= drain(graceMs);
      return draining;
    },
  };
}
