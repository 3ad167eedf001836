/**
 * Options of the JetStream backend, their defaults, and the names of the
 * NATS resources (stream, buckets, subjects) derived from the prefix.
 *
 * @module
 */

/** Options of `createJetStreamBackend`. */
export interface JetStreamBackendOptions {
  /** NATS server URL(s), e.g. "nats://127.0.0.1:4222" or the members of a cluster. */
  readonly servers: string | string[];
  /**
   * Prefix of every stream, bucket and subject this backend uses
   * ([A-Za-z0-9_-], default "switchboard"). Backends sharing a prefix share
   * history, files and presence: they are the nodes of one cluster.
   */
  readonly prefix?: string;
  /** Deduplication window of `Nats-Msg-Id` (stream `duplicate_window`). Default 2 minutes. */
  readonly dedupeWindowMs?: number;
  /**
   * How long idempotency keys are remembered in the `<prefix>_idempotency`
   * KV bucket, beyond the dedupe window. Default 24 hours; 0 turns the index
   * off (duplicates are then only caught within `dedupeWindowMs`).
   */
  readonly idempotencyWindowMs?: number;
  /** Messages older than this are dropped (stream `max_age`). Default 0 = kept forever. */
  readonly maxAgeMs?: number;
  /** Messages kept per room (`max_msgs_per_subject`). Default 0 = unlimited. */
  readonly maxMessagesPerRoom?: number;
  /** Replicas of every stream and bucket (1, or 3 on a 3-node cluster). Default 1. */
  readonly replicas?: number;
  /** A node's presence keys expire this long after its last refresh. Default 15 s. */
  readonly presenceTtlMs?: number;
  /** Timeout of the first connection. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Timeout of every JetStream request (publish, get, info…). Default 5 s. */
  readonly requestTimeoutMs?: number;
  /** Connection name shown by the server (monitoring). Default "switchboard-<node id>". */
  readonly name?: string;
}

/** {@link JetStreamBackendOptions} with every default filled in. */
export interface ResolvedJetStreamOptions {
  readonly servers: string[];
  readonly prefix: string;
  readonly dedupeWindowMs: number;
  readonly idempotencyWindowMs: number;
  readonly maxAgeMs: number;
  readonly maxMessagesPerRoom: number;
  readonly replicas: number;
  readonly presenceTtlMs: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly name: string | undefined;
}

/** Names of the NATS resources of one prefix. */
export interface JetStreamNames {
  /** `<PREFIX>_MESSAGES`. */
  readonly messagesStream: string;
  /** Subject of a room: `<prefix>.room.<base64url room>`. */
  roomSubject(room: string): string;
  /** Wildcard subject of all rooms. */
  readonly roomsWildcard: string;
  /** `<prefix>_files` (an Object Store bucket; its stream is `OBJ_<prefix>_files`). */
  readonly filesBucket: string;
  /** `<prefix>_presence` (a KV bucket; its stream is `KV_<prefix>_presence`). */
  readonly presenceBucket: string;
  /** `<prefix>_idempotency` (a KV bucket). */
  readonly idempotencyBucket: string;
}

const prefixPattern = /^[A-Za-z0-9_-]{1,64}$/;

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`jetstream backend: ${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/**
 * Fills in defaults and checks the options.
 *
 * @example
 * const o = resolveJetStreamOptions({ servers: "nats://127.0.0.1:4222" });
 * o.prefix; // "switchboard"
 */
export function resolveJetStreamOptions(
  options: JetStreamBackendOptions,
): ResolvedJetStreamOptions {
  const servers = Array.isArray(options.servers) ? [...options.servers] : [options.servers];
  if (servers.length === 0 || servers.some((s) => typeof s !== "string" || s === "")) {
    throw new Error("jetstream backend: servers must name at least one NATS server");
  }
  const prefix = options.prefix ?? "switchboard";
  if (!prefixPattern.test(prefix)) {
    throw new Error(
      `jetstream backend: prefix must be 1-64 characters of [A-Za-z0-9_-], got ${JSON.stringify(prefix)}`,
    );
  }
  const replicas = nonNegative("replicas", options.replicas, 1);
  if (replicas < 1 || replicas > 5) throw new Error("jetstream backend: replicas must be 1-5");
  const presenceTtlMs = nonNegative("presenceTtlMs", options.presenceTtlMs, 15_000);
  if (presenceTtlMs < 300) throw new Error("jetstream backend: presenceTtlMs must be at least 300");
  const dedupeWindowMs = nonNegative("dedupeWindowMs", options.dedupeWindowMs, 120_000);
  if (dedupeWindowMs < 100)
    throw new Error("jetstream backend: dedupeWindowMs must be at least 100");
  return {
    servers,
    prefix,
    dedupeWindowMs,
    idempotencyWindowMs: nonNegative(
      "idempotencyWindowMs",
      options.idempotencyWindowMs,
      86_400_000,
    ),
    maxAgeMs: nonNegative("maxAgeMs", options.maxAgeMs, 0),
    maxMessagesPerRoom: nonNegative("maxMessagesPerRoom", options.maxMessagesPerRoom, 0),
    replicas,
    presenceTtlMs,
    connectTimeoutMs: nonNegative("connectTimeoutMs", options.connectTimeoutMs, 5000) || 5000,
    requestTimeoutMs: nonNegative("requestTimeoutMs", options.requestTimeoutMs, 5000) || 5000,
    name: options.name,
  };
}

/**
 * Encodes any string as one subject/KV-key token: base64url without padding
 * (characters [A-Za-z0-9_-]); the empty string becomes "_".
 *
 * @example
 * subjectToken("team:a.b@c"); // "dGVhbTphLmJAYw"
 */
export function subjectToken(value: string): string {
  return value === "" ? "_" : Buffer.from(value, "utf8").toString("base64url");
}

/** Inverse of {@link subjectToken}. */
export function fromSubjectToken(token: string): string {
  return token === "_" ? "" : Buffer.from(token, "base64url").toString("utf8");
}

/**
 * The resource names of a prefix.
 *
 * @example
 * jetStreamNames("switchboard").messagesStream; // "SWITCHBOARD_MESSAGES"
 */
export function jetStreamNames(prefix: string): JetStreamNames {
  return {
    messagesStream: `${prefix.toUpperCase()}_MESSAGES`,
    roomSubject: (room) => `${prefix}.room.${subjectToken(room)}`,
    roomsWildcard: `${prefix}.room.*`,
    filesBucket: `${prefix}_files`,
    presenceBucket: `${prefix}_presence`,
    idempotencyBucket: `${prefix}_idempotency`,
  };
}
