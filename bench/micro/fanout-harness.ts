/**
 * Shared setup of the in-process fan-out micro benchmarks: the ChatService's
 * Subscribe handler on the memory backend, called directly with a
 * `HandlerContext` (no transport, no serialization unless asked), and the
 * server's real per-call telemetry (metrics, no tracing) when asked.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { createContextValues, createHandlerContext } from "@connectrpc/connect";
import { createMemoryBackend } from "../../src/backend/memory/index.js";
import type { Backend } from "../../src/backend/types.js";
import {
  ChatService,
  SubscribeRequestSchema,
  type SubscribeResponse,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  createCallTelemetry,
  createQueueRegistry,
} from "../../src/observability/call-telemetry.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createChatService } from "../../src/service/chat-service.js";
import { kUser } from "../../src/service/context-values.js";
import type { ServiceLimits } from "../../src/service/limits.js";
import { kCallTelemetry } from "../../src/service/telemetry.js";

/** One open Subscribe call. */
export interface OpenSubscriber {
  /** Ends the call (as the transport does when the client goes away). */
  abort(): void;
  /** Settles when the handler's generator has finished. */
  readonly done: Promise<void>;
}

/** The service under test. */
export interface FanoutHarness {
  readonly backend: Backend;
  /**
   * Opens a Subscribe call on `room` (live, from the head) and consumes it,
   * handing every event to `onEvent`.
   */
  subscribe(room: string, onEvent: (event: SubscribeResponse) => void): OpenSubscriber;
  /** Creates a context like the ones `subscribe` uses, for baseline measurements. */
  context(): { abort(): void };
  close(): Promise<void>;
}

/** Options of {@link createFanoutHarness}. */
export interface FanoutHarnessOptions {
  /** Attach the server's metrics telemetry to every call (as the real server does). */
  readonly telemetry: boolean;
  readonly limits?: Partial<ServiceLimits>;
}

const method = ChatService.method.subscribe;
const user = { id: "bench", name: "Bench", publish: ["*"], subscribe: ["*"] };

/**
 * Creates the service on a fresh memory backend.
 *
 * @example
 * const h = createFanoutHarness({ telemetry: true });
 * const sub = h.subscribe("lobby", (event) => count++);
 */
export function createFanoutHarness(options: FanoutHarnessOptions): FanoutHarness {
  const backend = createMemoryBackend();
  const service = createChatService({ backend, limits: options.limits ?? {} });
  const metrics = createMetrics();
  const queues = createQueueRegistry();
  metrics.setQueueDepthSource(() => queues.depth());

  const context = () => {
    const values = createContextValues();
    values.set(kUser, user);
    if (options.telemetry) {
      values.set(kCallTelemetry, createCallTelemetry({ metrics, queues, method: "Subscribe" }));
    }
    return createHandlerContext({
      service: ChatService,
      method,
      protocolName: "grpc",
      requestMethod: "POST",
      url: "http://localhost/switchboard.chat.v1.ChatService/Subscribe",
      contextValues: values,
    });
  };

  return {
    backend,
    context,
    subscribe(room, onEvent) {
      const ctx = context();
      const req = create(SubscribeRequestSchema, {
        rooms: [{ room, start: { case: "last", value: 0 } }],
      });
      const events = service.subscribe(req, ctx) as AsyncIterable<SubscribeResponse>;
      const done = (async () => {
        try {
          for await (const event of events) onEvent(event);
        } catch {
          // Aborted: the normal end of a benchmark subscriber.
        }
      })();
      return {
        abort() {
          ctx.abort();
        },
        done,
      };
    },
    close: () => backend.close(),
  };
}

/** Resolves after pending I/O and immediates: lets consumers drain their queues. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Parses `--name value` flags with numeric or boolean defaults. */
export function flags<T extends Record<string, number | boolean | string>>(
  defaults: T,
  argv: readonly string[] = process.argv.slice(2),
): T {
  const out: Record<string, number | boolean | string> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new Error(`unexpected argument "${arg}"`);
    const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
    if (!(name in defaults)) throw new Error(`unknown flag --${name}`);
    const fallback = defaults[name];
    if (typeof fallback === "boolean") {
      out[name] = inline === undefined ? true : inline !== "false";
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${name}: needs a value`);
    out[name] = typeof fallback === "number" ? Number(value) : value;
    if (typeof fallback === "number" && !Number.isFinite(out[name])) {
      throw new Error(`--${name}: must be a number, got "${value}"`);
    }
  }
  return out as T;
}
