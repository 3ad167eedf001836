/**
 * Error classification shared by every SDK helper: which failures are worth a
 * retry and which end an operation for good. Transport-agnostic (works with
 * errors from connect-node and connect-web alike).
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";

/**
 * Codes that no retry can fix: the request or the caller is wrong.
 * Subscriptions and downloads stop on these; everything else is retried.
 */
const terminalCodes: ReadonlySet<Code> = new Set([
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.OutOfRange,
  Code.Unimplemented,
  Code.AlreadyExists,
]);

/** Messages that connect-node and browsers use for a connection that broke mid-call. */
const brokenConnection =
  /protocol error|premature close|stream closed|socket hang up|ECONNRESET|EPIPE|ECONNREFUSED|network|fetch failed|GOAWAY/i;

/**
 * True when the failure says nothing about the request itself: the server was
 * unreachable, restarting, or the connection broke. Retrying a request that
 * carries an idempotency key (Send with `client_message_id`) is then safe.
 * Deadline expiry and server-side errors are not transient.
 *
 * @example
 * if (isTransientError(err)) await sleep(backoff.next());
 */
export function isTransientError(err: unknown): boolean {
  const ce = ConnectError.from(err);
  switch (ce.code) {
    case Code.Unavailable:
    case Code.Unknown:
    case Code.Aborted:
      return true;
    case Code.Internal:
    case Code.Canceled:
      // Only when produced locally by a broken connection, never when the
      // server answered "internal error" or the caller cancelled.
      return ce.cause !== undefined || brokenConnection.test(ce.rawMessage);
    default:
      return false;
  }
}

/** Header/trailer in which the server says how long to wait before retrying (rate limits). */
export const retryAfterHeader = "retry-after-ms";

/** Header/trailer with the last offsets a stream delivered, sent when the server asks clients to reconnect. */
export const resumeOffsetsHeader = "switchboard-resume-offsets";

/**
 * The wait the server asked for before a retry, in milliseconds: the
 * `retry-after-ms` header or trailer of a ResourceExhausted error (a rate
 * limit). Undefined for any other error.
 *
 * @example
 * const wait = retryAfterMs(err); // e.g. 120
 */
export function retryAfterMs(err: unknown): number | undefined {
  const ce = ConnectError.from(err);
  if (ce.code !== Code.ResourceExhausted) return undefined;
  const raw = ce.metadata.get(retryAfterHeader);
  if (raw === null || !/^\d+$/.test(raw.trim())) return undefined;
  return Math.min(Number(raw), 60_000);
}

/**
 * True when the server ended a stream on purpose and asked the client to
 * reconnect now (maximum stream age, shutdown): the error is `unavailable`
 * and carries the `switchboard-resume-offsets` hint.
 *
 * @example
 * if (isReconnectHint(err)) reconnectNow();
 */
export function isReconnectHint(err: unknown): boolean {
  const ce = ConnectError.from(err);
  return ce.code === Code.Unavailable && ce.metadata.has(resumeOffsetsHeader);
}

/**
 * True when retrying cannot help: authentication, permission, invalid
 * arguments, unknown ids and the like.
 *
 * @example
 * if (isTerminalError(err)) throw err;
 */
export function isTerminalError(err: unknown): boolean {
  return terminalCodes.has(ConnectError.from(err).code);
}

/**
 * The snake_case name of an error's code, as used on the wire by the Connect
 * protocol and in CLI messages (`permission_denied`).
 *
 * @example
 * errorCodeName(new ConnectError("x", Code.PermissionDenied)); // "permission_denied"
 */
export function errorCodeName(err: unknown): string {
  return codeToString(ConnectError.from(err).code);
}

/** A downloaded file whose SHA-256 differs from the one the server announced. */
export class ChecksumMismatchError extends Error {
  override name = "ChecksumMismatchError";
  /** The server's lower-case hex SHA-256. */
  readonly expected: string;
  /** The SHA-256 of the received bytes. */
  readonly actual: string;
  constructor(fileId: string, expected: string, actual: string) {
    super(`file ${fileId}: sha256 mismatch: expected ${expected}, got ${actual}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** A Chat stream frame that the server rejected (the stream itself goes on). */
export class ChatRequestError extends Error {
  override name = "ChatRequestError";
  /** Connect code name, e.g. "permission_denied". */
  readonly code: string;
  /** Room concerned; "" when none. */
  readonly room: string;
  constructor(code: string, message: string, room: string) {
    super(`${code}: ${message}`);
    this.code = code;
    this.room = room;
  }
}
