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
import { kCallEnd } from "../../service/call-end.js";
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
  let controller: AbortController | undefined;
  let requestHeader: Headers | undefined;
  init.values.set(kHeaderValue, (name) => headerValue(init.nodeHeaders, name));
  let aborted = false;
  let abortReason: unknown;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let capTimer: ReturnType<typeof setTimeout> | undefined;
  let ends: ((reason: unknown) => void)[] | undefined;
  let rejectRace: ((reason: unknown) => void) | undefined;
  const abort = (reason?: unknown) => {
    if (aborted) return;
    aborted = true;
    abortReason = reason;
    if (timer !== undefined) clearTimeout(timer);
    if (capTimer !== undefined) clearTimeout(capTimer);
    init.calls.delete(call);
    controller?.abort(reason);
    if (ends !== undefined) for (const fn of ends) fn(reason);
    rejectRace?.(reason);
  };
  const call = { abort };
  // Observers and gates hear about the end through plain callbacks (call-end.ts).
  init.values.set(kCallEnd, (fn) => {
    if (aborted) {
      fn(abortReason);
      return;
    }
    ends ??= [];
    ends.push(fn);
  });
  // The server's unary cap, armed by its interceptor (create-unary-timeout-interceptor.ts).
  init.values.set(kUnaryCap, (capMs, reason) => {
    if (aborted || capTimer !== undefined) return;
    capTimer = setTimeout(() => abort(reason()), capMs);
  });
  let deadline: number | undefined;
  if (init.timeoutMs !== undefined) {
    deadline = Date.now() + init.timeoutMs;
    const expire = () => abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    if (init.timeoutMs <= 0) expire();
    else timer = setTimeout(expire, init.timeoutMs);
  }
  if (!aborted) {
    // Server shutdown reaches every live call through one listener (see CallRegistry).
    if (init.shutdownSignal?.aborted) abort(init.shutdownSignal.reason);
    else init.calls.add(call);
  }
  return {
    method: init.method,
    service: init.service,
    protocolName: init.protocolName,
    requestMethod: init.requestMethod,
    url: init.url,
    // Built on first use: the auth gate reads the one header it needs directly.
    get requestHeader() {
      requestHeader ??= requestHeaders(init.nodeHeaders);
      return requestHeader;
    },
    responseHeader: init.responseHeader,
    responseTrailer: init.responseTrailer,
    values: init.values,
    // Created on first use: most unary handlers never look at it.
    get signal() {
      if (controller === undefined) {
        controller = new AbortController();
        if (aborted) controller.abort(abortReason);
      }
      return controller.signal;
    },
    timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
    abort,
    race(work) {
      if (aborted) return Promise.reject(abortReason);
      return Promise.race([
        work,
        new Promise<never>((_, reject) => {
          rejectRace = reject;
        }),
      ]);
    },
  };
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
