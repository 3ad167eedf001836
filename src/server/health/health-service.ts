/**
 * The standard gRPC health service, `grpc.health.v1.Health`, on the API
 * port, for Kubernetes gRPC probes, `grpc_health_probe`, Envoy and
 * grpc-js/grpc-go client-side health checking.
 *
 * Readiness comes from one function (the request handler passes the
 * backend's `health()` combined with the drain state), so the answer is
 * SERVING exactly while the backend is ready (store open; NATS connected in
 * cluster mode) and the server is not shutting down, NOT_SERVING otherwise.
 * The service names are `""` (the whole server) and
 * `switchboard.chat.v1.ChatService`; `Check` of any other name fails with
 * `not_found`, `Watch` of it reports SERVICE_UNKNOWN and stays open, as the
 * protocol says.
 *
 * `Watch` polls readiness every `watchIntervalMs` and sends a message only
 * when the status changes. When the server drains, the stream's signal is
 * aborted (see drain.ts): the watcher gets a last NOT_SERVING and the call
 * ends with the shutdown error (`unavailable`), so clients reconnect
 * elsewhere.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { BackendHealth } from "../../backend/types.js";
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../gen/grpc/health/v1/health_pb.js";
import { ChatService } from "../../gen/switchboard/chat/v1/chat_pb.js";

/** The service names health checks know: the whole server (`""`) and ChatService. */
export const healthServiceNames: readonly string[] = Object.freeze(["", ChatService.typeName]);

/** Default poll interval of `Watch`, in milliseconds. */
export const defaultWatchIntervalMs = 1_000;

/** Inputs of {@link createHealthService}. */
export interface HealthServiceOptions {
  /** Current readiness; a throwing function counts as not ready. */
  readiness: () => BackendHealth;
  /** Known service names; default {@link healthServiceNames}. */
  services?: readonly string[];
  /** How often `Watch` re-reads readiness; default {@link defaultWatchIntervalMs}. */
  watchIntervalMs?: number;
}

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = HealthCheckResponse_ServingStatus;

/**
 * Creates the `grpc.health.v1.Health` implementation.
 *
 * @example
 * router.service(Health, createHealthService({ readiness: () => backend.health() }));
 */
export function createHealthService(opts: HealthServiceOptions): ServiceImpl<typeof Health> {
  const known = new Set(opts.services ?? healthServiceNames);
  const intervalMs = opts.watchIntervalMs ?? defaultWatchIntervalMs;
  const statusOf = (service: string): HealthCheckResponse_ServingStatus => {
    if (!known.has(service)) return SERVICE_UNKNOWN;
    try {
      return opts.readiness().ready ? SERVING : NOT_SERVING;
    } catch {
      return NOT_SERVING;
    }
  };
  const response = (status: HealthCheckResponse_ServingStatus): HealthCheckResponse =>
    create(HealthCheckResponseSchema, { status });

  return {
    check(req) {
      const status = statusOf(req.service);
      if (status === SERVICE_UNKNOWN) {
        throw new ConnectError(`service: unknown service "${req.service}"`, Code.NotFound);
      }
      return response(status);
    },
    async *watch(req, ctx) {
      let last: HealthCheckResponse_ServingStatus | undefined;
      for (;;) {
        const status = statusOf(req.service);
        if (status !== last) {
          last = status;
          yield response(status);
        }
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
        await sleep(intervalMs, ctx.signal);
      }
    },
  };
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
