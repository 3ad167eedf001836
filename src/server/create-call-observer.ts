/**
 * Observes every RPC once: its server span, its metrics and its log line.
 *
 * Why a request gate and not only an interceptor: connect runs interceptors
 * only for calls its request gate admitted and whose (unary) request
 * decoded, so calls rejected as unauthenticated would go unseen. The gate
 * wrapper runs first for every call of every service (ChatService, health,
 * reflection, …) on every path into the router; the call's context signal,
 * which connect aborts when the call ends (with the error, if any), gives
 * the outcome. On HTTP requests the server also counts wire bytes, and the
 * call is finished once the response is closed, so duration and bytes
 * cover the whole exchange.
 *
 * Per call:
 * - span `<service>/<method>` (kind SERVER), continuing the request's W3C
 *   `traceparent`; its context is handed to the service through
 *   {@link kCallTelemetry} (delivery spans, the `traceparent` stored with
 *   sent messages);
 * - `switchboard_rpc_handled_total`, `switchboard_rpc_duration_seconds`,
 *   `switchboard_active_streams`, `switchboard_auth_failures_total`
 *   (the service reports the message, byte and queue metrics through
 *   {@link kCallTelemetry});
 * - one log line `rpc` with service, method, protocol, user, code,
 *   duration_ms, bytes_in, bytes_out, trace_id — never tokens or bodies.
 *
 * @module
 */

import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { createCallTelemetry, createQueueRegistry } from "../observability/call-telemetry.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { Tracing } from "../observability/tracing.js";
import { onCallEnd } from "../service/call-end.js";
import { kUser } from "../service/context-values.js";
import { codeName } from "../service/errors.js";
import { kCallTelemetry } from "../service/telemetry.js";
import type { WireBytes } from "./count-wire-bytes.js";
import { kStreamHooks } from "./fast/stream-hooks.js";
import { forMethodKinds } from "./interceptor-kinds.js";

/** A connect request gate. */
export type RequestGate = (ctx: HandlerContext) => void | Promise<void>;

/** Context value: the wire byte counts of the HTTP request carrying the call, when there is one. */
export const kWireBytes = createContextKey<WireBytes | undefined>(undefined, {
  description: "switchboard wire bytes",
});

/** What the observer reports to. */
export interface CallObserverOptions {
  readonly metrics: Metrics;
  readonly tracing: Tracing;
  readonly logger: Logger;
}

/** Observes calls; see the module comment. */
export interface CallObserver {
  /** Wraps the router's request gate (or none) so every call is observed. */
  gate(inner?: RequestGate): RequestGate;
  /** Counts the messages of streaming calls. */
  readonly interceptor: Interceptor;
}

/** Codes that mean the server failed (span status ERROR), as in the gRPC semantic conventions. */
const serverFaults: ReadonlySet<Code> = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * Creates the call observer of one server.
 *
 * @example
 * const observer = createCallObserver({ metrics, tracing, logger });
 * connectNodeAdapter({ routes, requestGate: observer.gate(authGate), interceptors: [observer.interceptor] });
 */
export function createCallObserver(options: CallObserverOptions): CallObserver {
  const { metrics, tracing, logger } = options;
  const tracer = tracing.tracer;
  const queues = createQueueRegistry();
  metrics.setQueueDepthSource(() => queues.depth());

  // Labels and the sent-message counter per method, not per call.
  const methodLabels = new WeakMap<DescMethod, { service: string; method: string }>();
  const labelsOf = (service: DescService, method: DescMethod) => {
    let labels = methodLabels.get(method);
    if (labels === undefined) {
      labels = { service: service.typeName, method: method.name };
      methodLabels.set(method, labels);
    }
    return labels;
  };
  const sentCounters = new WeakMap<DescMethod, () => void>();
  const sentCounter = (service: DescService, method: DescMethod) => {
    let sent = sentCounters.get(method);
    if (sent === undefined) {
      const labels = labelsOf(service, method);
      sent = () => metrics.rpcMessagesSent.inc(labels);
      sentCounters.set(method, sent);
    }
    return sent;
  };

  function observe(ctx: HandlerContext): void {
    const started = performance.now();
    const service = ctx.service.typeName;
    const method = ctx.method.name;
    const protocol = ctx.protocolName;
    const streaming = ctx.method.methodKind !== "unary";
    let span: Span | undefined;
    if (tracer) {
      const parent = tracing.extract(ctx.requestHeader);
      span = tracer.startSpan(
        `${service}/${method}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            "rpc.system": protocol === "connect" ? "connect_rpc" : "grpc",
            "rpc.service": service,
            "rpc.method": method,
            "switchboard.protocol": protocol,
          },
        },
        parent,
      );
      const context = trace.setSpan(parent, span);
      ctx.values.set(
        kCallTelemetry,
        createCallTelemetry({ metrics, queues, method, trace: { span, context, tracer } }),
      );
    } else {
      ctx.values.set(kCallTelemetry, createCallTelemetry({ metrics, queues, method }));
    }
    if (streaming) metrics.activeStreams.inc({ service, method });

    const wire = ctx.values.get(kWireBytes);
    let reason: unknown;
    let ended = false;
    let closed = wire === undefined;
    let finished = false;
    const finish = () => {
      if (finished || !ended || !closed) return;
      finished = true;
      const error = reason instanceof ConnectError ? reason : undefined;
      const code = error ? codeName(error.code) : "ok";
      const seconds = (performance.now() - started) / 1000;
      metrics.rpcHandled.inc({ service, method, protocol, code });
      metrics.rpcDuration.observe({ service, method, protocol }, seconds);
      if (streaming) metrics.activeStreams.dec({ service, method });
      if (span) {
        span.setAttribute("rpc.grpc.status_code", error ? error.code : 0);
        if (error) {
          span.setAttribute("rpc.connect_rpc.error_code", code);
          if (serverFaults.has(error.code)) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: error.rawMessage });
          }
        }
        span.end();
      }
      logger.info(
        {
          service,
          method,
          protocol,
          user: ctx.values.get(kUser)?.id,
          code,
          duration_ms: Math.round(seconds * 1e6) / 1e3,
          ...(wire ? { bytes_in: wire.bytesIn, bytes_out: wire.bytesOut } : {}),
          ...(span ? { trace_id: span.spanContext().traceId } : {}),
        },
        "rpc",
      );
    };
    // Read the reason a tick later: another gate may rewrite it in place
    // (request decoding errors become InvalidArgument, see request-gate.ts).
    onCallEnd(ctx, (why) =>
      queueMicrotask(() => {
        reason = why;
        ended = true;
        finish();
      }),
    );
    wire?.onClose(() => {
      closed = true;
      finish();
    });
  }

  return {
    gate(inner) {
      return async (ctx) => {
        observe(ctx);
        try {
          await inner?.(ctx);
        } catch (err) {
          if (err instanceof ConnectError && err.code === Code.Unauthenticated) {
            metrics.authFailures.inc({ reason: authFailureReason(err) });
          }
          throw err;
        }
      };
    },
    // Unary calls are counted by the gate; this counts stream messages.
    interceptor: forMethodKinds(
      ["server_streaming", "client_streaming", "bidi_streaming"],
      (next) => async (req) => {
        const kind = req.method.methodKind;
        if (kind === "client_streaming" || kind === "bidi_streaming") {
          const input = req.message as AsyncIterable<unknown>;
          const labels = labelsOf(req.service, req.method);
          const received = () => metrics.rpcMessagesReceived.inc(labels);
          req = { ...req, message: countEach(input, received) } as typeof req;
        }
        const res = await next(req);
        if (!res.stream || kind === "client_streaming") return res;
        const sent = sentCounter(req.service, req.method);
        // The fast path calls the counter for each message (stream-hooks.ts).
        const hooks = req.contextValues.get(kStreamHooks);
        if (hooks !== undefined) {
          hooks.onMessage(sent);
          return res;
        }
        return { ...res, message: countEach(res.message, sent) };
      },
    ),
  };
}

/**
 * Passes `source` through unchanged (`return` and `throw` reach it as they
 * would without the wrapper), calling `count` for each value.
 */
function countEach<T>(source: AsyncIterable<T>, count: () => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      return {
        async next() {
          const r = await it.next();
          if (r.done !== true) count();
          return r;
        },
        return: (value?: unknown) =>
          it.return
            ? it.return(value)
            : Promise.resolve({ done: true as const, value: value as T }),
        throw: (e?: unknown) => (it.throw ? it.throw(e) : Promise.reject(e)),
      };
    },
  };
}

/** The `reason` label of an authentication failure (see authenticate() in create-auth-interceptor.ts). */
function authFailureReason(err: ConnectError): string {
  const message = err.rawMessage;
  if (message.includes("missing")) return "missing";
  if (message.includes("expired")) return "expired";
  if (message.includes("not yet valid")) return "not_yet_valid";
  return "invalid";
}
