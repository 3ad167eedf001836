/**
 * What every RPC handler of the service is built from.
 *
 * @module
 */
import type { Backend } from "../backend/types.js";
import type { ServiceLimits } from "./limits.js";
import type { RateLimiter } from "./rate-limit.js";

/** The backend and the resolved limits shared by all handlers of one service instance. */
export interface ServiceDeps {
  /** The only way handlers reach storage, fan-out, files and presence. */
  readonly backend: Backend;
  /** Limits with every default filled in (see `resolveServiceLimits`). */
  readonly limits: ServiceLimits;
  /** Per-user send rate limiter (see rate-limit.ts); no limit when absent. */
  readonly sendLimiter?: RateLimiter;
}
