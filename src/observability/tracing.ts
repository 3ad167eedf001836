/**
 * OpenTelemetry tracing, configured by the standard `OTEL_*` variables and
 * off unless they ask for it. Each server gets its own tracer provider (not
 * registered globally), so spans carry their context explicitly: the server
 * extracts W3C `traceparent` from request headers and hands contexts to the
 * service through connect context values.
 *
 * | variable | meaning |
 * |---|---|
 * | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | OTLP/HTTP URL for traces, used as is (e.g. `http://collector:4318/v1/traces`) |
 * | `OTEL_EXPORTER_OTLP_ENDPOINT` | OTLP/HTTP base URL; `/v1/traces` is appended |
 * | `OTEL_TRACES_EXPORTER` | `otlp` (default once an endpoint is set), `console`, or `none` |
 * | `OTEL_SDK_DISABLED` | `true` turns tracing off |
 * | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | `key=value,…` sent with each export |
 * | `OTEL_SERVICE_NAME` | `service.name` (default `switchboard`) |
 * | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…` resource attributes |
 * | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` (default), `always_on`, `always_off`, `traceidratio`, `parentbased_traceidratio`, `parentbased_always_off` |
 * | `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_EXPORT_TIMEOUT` | batching of exports |
 *
 * Tracing is on when an endpoint is set or `OTEL_TRACES_EXPORTER` names an
 * exporter, and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`.
 *
 * @module
 */

import {
  type Context,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";

/** Name of the instrumentation scope of every Switchboard span. */
export const tracerName = "switchboard";

/** Tracing of one server. */
export interface Tracing {
  /** The tracer, or undefined when tracing is off (then no span is created anywhere). */
  readonly tracer: Tracer | undefined;
  /** Where exports go (`http://…/v1/traces`, `console`), or "" when off. */
  readonly exportTarget: string;
  /**
   * The context a server span continues: the remote parent of a valid
   * `traceparent` (and `tracestate`) header, or the root context.
   */
  extract(headers: Headers): Context;
  /** Flushes pending spans and stops exporting. Idempotent. */
  shutdown(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();
const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

const headerGetter: TextMapGetter<Headers> = {
  keys: (carrier) => {
    const names: string[] = [];
    carrier.forEach((_, name) => {
      names.push(name);
    });
    return names;
  },
  get: (carrier, key) => carrier.get(key) ?? undefined,
};

/**
 * Formats a span context as a W3C `traceparent` header value.
 *
 * @example
 * formatTraceparent(span.spanContext()); // "00-<32 hex>-<16 hex>-01"
 */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * Parses a W3C `traceparent` into a span context (remote), or undefined when
 * it is not a valid one.
 *
 * @example
 * const link = parseTraceparent(message.traceparent);
 */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  const m = value === undefined ? null : traceparentPattern.exec(value);
  if (m === null) return undefined;
  const sc: SpanContext = {
    traceId: m[1]!,
    spanId: m[2]!,
    traceFlags: Number.parseInt(m[3]!, 16) & 0xff,
    isRemote: true,
  };
  return trace.isSpanContextValid(sc) ? sc : undefined;
}

/**
 * Creates the tracing of one server from `OTEL_*` variables (see the module
 * table). Off unless an exporter is configured.
 *
 * @example
 * const tracing = createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" });
 * tracing.tracer?.startSpan("work").end();
 * await tracing.shutdown();
 */
export function createTracing(env: Readonly<Record<string, string | undefined>>): Tracing {
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const extract: Tracing["extract"] = (headers) =>
    propagator.extract(ROOT_CONTEXT, headers, headerGetter);
  const exporterName = get("OTEL_TRACES_EXPORTER")?.split(",")[0]?.trim().toLowerCase();
  const tracesEndpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const baseEndpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT");
  const disabled =
    get("OTEL_SDK_DISABLED")?.toLowerCase() === "true" ||
    exporterName === "none" ||
    (exporterName === undefined && tracesEndpoint === undefined && baseEndpoint === undefined);
  if (disabled) {
    return { tracer: undefined, exportTarget: "", extract, shutdown: async () => {} };
  }
  let exporter: SpanExporter;
  let exportTarget: string;
  if (exporterName === "console") {
    exporter = new ConsoleSpanExporter();
    exportTarget = "console";
  } else if (exporterName === undefined || exporterName === "otlp") {
    exportTarget =
      tracesEndpoint ??
      `${(baseEndpoint ?? "http://localhost:4318").replace(/\/+$/, "")}/v1/traces`;
    const headers = parseKeyValues(
      get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") ?? get("OTEL_EXPORTER_OTLP_HEADERS"),
    );
    exporter = new OTLPTraceExporter({ url: exportTarget, headers });
  } else {
    throw new Error(
      `OTEL_TRACES_EXPORTER: "${exporterName}" is not supported (otlp, console, none)`,
    );
  }
  const number = (name: string): number | undefined => {
    const raw = get(name);
    const n = raw === undefined ? Number.NaN : Number(raw);
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  };
  const batch = {
    ...optional("scheduledDelayMillis", number("OTEL_BSP_SCHEDULE_DELAY")),
    ...optional("maxExportBatchSize", number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")),
    ...optional("maxQueueSize", number("OTEL_BSP_MAX_QUEUE_SIZE")),
    ...optional("exportTimeoutMillis", number("OTEL_BSP_EXPORT_TIMEOUT")),
  };
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      ...parseKeyValues(get("OTEL_RESOURCE_ATTRIBUTES")),
      "service.name": get("OTEL_SERVICE_NAME") ?? "switchboard",
    }),
    sampler: samplerFrom(get("OTEL_TRACES_SAMPLER"), number("OTEL_TRACES_SAMPLER_ARG")),
    spanProcessors: [new BatchSpanProcessor(exporter, batch)],
  });
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(tracerName),
    exportTarget,
    extract,
    shutdown() {
      stopped ??= provider.shutdown().catch(() => undefined);
      return stopped;
    },
  };
}

function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

function samplerFrom(name: string | undefined, arg: number | undefined): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(arg !== undefined && arg <= 1 ? arg : 1);
  switch (name?.toLowerCase()) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio();
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** Parses `key=value,key2=value2` (values URL-decoded), as OTEL_* header and attribute lists are. */
function parseKeyValues(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const part of raw.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep the raw value
    }
    if (key !== "") out[key] = value;
  }
  return out;
}
