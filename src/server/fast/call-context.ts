/**
 * The HandlerContext of one fast-path call, with the same fields and signal
 * semantics as connect's `createHandlerContext`: the signal (created on
 * first use) aborts on the client's deadline (`DeadlineExceeded "the operation timed out"`), when
 * the request is cancelled or its connection closes, on server shutdown,
 * and when the call ends — but with fewer allocations: at most one AbortController (none when no one reads the signal),
 * a deadline timer only when the client sent a timeout, no DOMException
 * for the normal end of a call (the signal is aborted with a shared
 * {@link callEnded} reason instead of connect's reason-less abort), plain
 * callbacks instead of abort listeners for the observer and gates
 * (`kCallEnd`, src/service/call-end.ts), and the server's unary cap on the
 * same signal instead of a second controller (`kUnaryCap`).
 *
 * @module
 */

import type { IncomingHttpHeaders } from "node:http";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { kAbortState, kCallEnd } from "../../service/call-end.js";
import { kHeaderValue } from "../create-auth-interceptor.js";
import { kUnaryCap } from "../create-unary-timeout-interceptor.js";
import { headerValue, requestHeaders } from "./node-headers.js";

/**
 * The abort reason of a call that ended normally: the same kind of value
 * connect's reason-less `abort()` produces (a DOMException named
 * AbortError), created once instead of once per call.
 */
export const callEnded: DOMException = Object.freeze(
  new DOMException("This operation was aborted", "AbortError"),
);

/** Inputs of {@link createCallContext}. */
export interface CallContextInit {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly protocolName: string;
  readonly requestMethod: string;
  readonly url: string;
  readonly timeoutMs: number | undefined;
  /** Server shutdown: the signal, and the registry its one listener aborts. */
  readonly shutdownSignal: AbortSignal | undefined;
  readonly calls: CallRegistry;
  /** The request's headers as node has them; `ctx.requestHeader` is built from them on first use. */
  readonly nodeHeaders: IncomingHttpHeaders;
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly values: ContextValues;
}

/** A handler context and the means to end it. */
export interface CallContext extends HandlerContext {
  /** Aborts the signal (if not yet aborted) and releases the timer and listeners. */
  abort(reason?: unknown): void;
  /**
   * Settles `work` or rejects with the abort reason as soon as the call is
   * aborted (deadline, server cap, cancel, shutdown), whichever is first —
   * the caller is answered then even if the handler ignores its signal.
   */
  race<T>(work: Promise<T>): Promise<T>;
}

/**
 * Creates the context of one call.
 *
 * @example
 * const ctx = createCallContext({ method, service, protocolName: "grpc", ... });
 * try { ... } finally { ctx.abort(callEnded); }
 */
export function createCallContext(init: CallContextInit): CallContext {
  return new FastCallContext(init);
}

const noDeadline = (): undefined => undefined;

/**
 * One call's context: the HandlerContext fields as own properties, the lazy
 * ones (`signal`, `requestHeader`) and the call's state behind prototype
 * accessors and methods, so that a call costs one object and a few small
 * closures sharing one scope (`abort`, the header lookup, the end hook, the
 * unary cap), not a closure per field.
 */
class FastCallContext implements CallContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly protocolName: string;
  readonly requestMethod: string;
  readonly url: string;
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly values: ContextValues;
  readonly timeoutMs: () => number | undefined;
  /** Detachable (callers pass `ctx.abort` as a callback). */
  readonly abort: (reason?: unknown) => void;
  private readonly nodeHeaders: IncomingHttpHeaders;
  private readonly calls: CallRegistry;
  private controller: AbortController | undefined = undefined;
  private header: Headers | undefined = undefined;
  private ended = false;
  private abortReason: unknown = undefined;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private capTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private ends: ((reason: unknown) => void)[] | undefined = undefined;
  private rejectRace: ((reason: unknown) => void) | undefined = undefined;

  constructor(init: CallContextInit) {
    this.method = init.method;
    this.service = init.service;
    this.protocolName = init.protocolName;
    this.requestMethod = init.requestMethod;
    this.url = init.url;
    this.responseHeader = init.responseHeader;
    this.responseTrailer = init.responseTrailer;
    this.values = init.values;
    this.nodeHeaders = init.nodeHeaders;
    this.calls = init.calls;
    this.abort = (reason) => this.end(reason);
    const nodeHeaders = init.nodeHeaders;
    init.values.set(kHeaderValue, (name) => headerValue(nodeHeaders, name));
    // Observers and gates hear about the end through plain callbacks (call-end.ts).
    init.values.set(kCallEnd, (fn) => this.onEnd(fn));
    // Work that only checks for cancellation reads it here, without a signal (call-end.ts).
    init.values.set(kAbortState, this);
    // The server's unary cap, armed by its interceptor (create-unary-timeout-interceptor.ts).
    if (init.method.methodKind === "unary") {
      init.values.set(kUnaryCap, (capMs, reason) => {
        if (this.ended || this.capTimer !== undefined) return;
        this.capTimer = setTimeout(() => this.abort(reason()), capMs);
      });
    }
    const timeoutMs = init.timeoutMs;
    if (timeoutMs === undefined) this.timeoutMs = noDeadline;
    else {
      const deadline = Date.now() + timeoutMs;
      this.timeoutMs = () => deadline - Date.now();
      const expire = () =>
        this.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
      if (timeoutMs <= 0) expire();
      else this.timer = setTimeout(expire, timeoutMs);
    }
    if (!this.ended) {
      // Server shutdown reaches every live call through one listener (see CallRegistry).
      if (init.shutdownSignal?.aborted) this.abort(init.shutdownSignal.reason);
      else init.calls.add(this);
    }
  }

  // Built on first use: the auth gate reads the one header it needs directly.
  get requestHeader(): Headers {
    this.header ??= requestHeaders(this.nodeHeaders);
    return this.header;
  }

  // Created on first use: most handlers never look at it.
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Whether the call's signal is aborted (the call was cancelled or ended), without creating it. */
  get aborted(): boolean {
    return this.ended;
  }

  /** The abort reason once {@link aborted}. */
  get reason(): unknown {
    return this.abortReason;
  }

  /** Throws the abort reason once {@link aborted}, as `AbortSignal.throwIfAborted` does. */
  throwIfAborted(): void {
    if (this.ended) throw this.abortReason;
  }

  private end(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.abortReason = reason;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.capTimer !== undefined) clearTimeout(this.capTimer);
    this.calls.delete(this);
    this.controller?.abort(reason);
    const ends = this.ends;
    this.ends = undefined;
    if (ends !== undefined) for (const fn of ends) fn(reason);
    this.rejectRace?.(reason);
  }

  race<T>(work: Promise<T>): Promise<T> {
    if (this.ended) return Promise.reject(this.abortReason);
    return Promise.race([
      work,
      new Promise<never>((_, reject) => {
        this.rejectRace = reject;
      }),
    ]);
  }

  private onEnd(fn: (reason: unknown) => void): void {
    if (this.ended) fn(this.abortReason);
    else if (this.ends === undefined) this.ends = [fn];
    else this.ends.push(fn);
  }
}

/** The live calls of one server, aborted together when `shutdown` aborts. */
export type CallRegistry = Set<{ abort(reason?: unknown): void }>;

/**
 * Creates the registry of live calls: one listener on the shutdown signal
 * for all of them, instead of one per call.
 *
 * @example
 * const calls = createCallRegistry(settings.shutdownSignal);
 */
export function createCallRegistry(shutdown: AbortSignal | undefined): CallRegistry {
  const calls: CallRegistry = new Set();
  shutdown?.addEventListener(
    "abort",
    () => {
      for (const call of [...calls]) call.abort(shutdown.reason);
    },
    { once: true },
  );
  return calls;
}
