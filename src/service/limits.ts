/** Limits and timings enforced by the service handlers. All are configurable. */
export interface ServiceLimits {
  /** Maximum UTF-8 bytes of a message text. Default 16 KiB. */
  readonly maxTextBytes: number;
  /** Maximum attachments per message. Default 16. */
  readonly maxAttachments: number;
  /** Maximum rooms in one Subscribe call or joined in one Chat stream. Default 64. */
  readonly maxRoomsPerSubscription: number;
  /** Maximum bytes of one Upload chunk. Default 1 MiB. */
  readonly maxChunkBytes: number;
  /** Maximum bytes of one file. Default 1 GiB. */
  readonly maxFileBytes: number;
  /** Bytes per Download chunk. Default 64 KiB. */
  readonly downloadChunkBytes: number;
  /** Idle time after which a stream gets a Heartbeat. Default 15 s. */
  readonly heartbeatIntervalMs: number;
  /**
   * Maximum bytes queued for one subscriber stream. A subscriber that falls
   * further behind is ended with ResourceExhausted. Default 8 MiB.
   */
  readonly maxQueueBytes: number;
  /** Messages replayed per history read while catching up a subscriber. Default 500. */
  readonly replayPageSize: number;
  /**
   * Sustained sends per second per user (Send and Chat send frames), a token
   * bucket refilled at this rate. Default 500.
   */
  readonly sendRatePerSec: number;
  /** Sends a user may make at once before the rate applies (bucket size). Default 1000. */
  readonly sendBurst: number;
  /**
   * How long a subscriber ended as too slow may take to read that error
   * before its stream is reset (see stream-control.ts). Default 5 s.
   */
  readonly slowConsumerGraceMs: number;
}

/** Defaults for {@link ServiceLimits}. */
export const defaultServiceLimits: ServiceLimits = {
  maxTextBytes: 16 * 1024,
  maxAttachments: 16,
  maxRoomsPerSubscription: 64,
  maxChunkBytes: 1024 * 1024,
  maxFileBytes: 1024 * 1024 * 1024,
  downloadChunkBytes: 64 * 1024,
  heartbeatIntervalMs: 15_000,
  maxQueueBytes: 8 * 1024 * 1024,
  replayPageSize: 500,
  sendRatePerSec: 500,
  sendBurst: 1000,
  slowConsumerGraceMs: 5_000,
};

/**
 * Fills in defaults for the limits not given and checks that every limit is a
 * positive integer (a misconfiguration fails at startup, not per request).
 *
 * @example
 * const limits = resolveServiceLimits({ maxQueueBytes: 1024 });
 */
export function resolveServiceLimits(overrides: Partial<ServiceLimits> = {}): ServiceLimits {
  const limits: ServiceLimits = { ...defaultServiceLimits };
  for (const [key, value] of Object.entries(overrides) as [keyof ServiceLimits, unknown][]) {
    if (value === undefined) continue;
    if (!(key in defaultServiceLimits)) {
      throw new Error(`unknown service limit "${key}"`);
    }
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`service limit "${key}" must be a positive integer, got ${String(value)}`);
    }
    (limits as Record<keyof ServiceLimits, number>)[key] = value;
  }
  return limits;
}
