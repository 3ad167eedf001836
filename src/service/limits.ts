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
};
