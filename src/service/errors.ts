/**
 * The one mapping from anything a handler can catch to the `ConnectError`
 * the client sees. Backends throw named errors (`src/backend/errors.ts`);
 * only here do they become Connect codes. Unknown errors become
 * `Code.Internal` with the message "internal error" and the original error in
 * `cause`, so internals never leak to clients.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BackendClosedError,
  BackendUnavailableError,
  NotFoundError,
  OutOfRangeError,
} from "../backend/errors.js";
import type { AbortState } from "../backend/types.js";

/**
 * Maps any thrown value to the ConnectError to send:
 *
 * | thrown                                   | code              |
 * |------------------------------------------|-------------------|
 * | ConnectError                             | unchanged (but see request decoding below) |
 * | NotFoundError                            | NotFound (message kept, it is safe) |
 * | OutOfRangeError                          | OutOfRange (message kept) |
 * | BackendUnavailableError                  | Unavailable "backend unavailable" |
 * | BackendClosedError                       | Unavailable "server is shutting down" |
 * | anything once `signal` aborted, AbortError | the signal's ConnectError reason (DeadlineExceeded for a deadline), else Canceled |
 * | TimeoutError                             | DeadlineExceeded |
 * | anything else                            | Internal "internal error" (original in `cause`) |
 *
 * A request message that protobuf-es cannot decode (for instance a string
 * field with invalid UTF-8) surfaces from connect-es as
 * `ConnectError(Code.Internal, "parse binary: …")` while a handler reads a
 * request stream; it is mapped to InvalidArgument, because the client sent it.
 *
 * @example
 * try { … } catch (e) { throw toConnectError(e, ctx.signal); }
 */
export function toConnectError(err: unknown, signal?: AbortState): ConnectError {
  if (err instanceof ConnectError) {
    return isRequestDecodeError(err) ? requestDecodeError(err) : err;
  }
  if (err instanceof NotFoundError) {
    return new ConnectError(err.message, Code.NotFound, undefined, undefined, err);
  }
  if (err instanceof OutOfRangeError) {
    return new ConnectError(err.message, Code.OutOfRange, undefined, undefined, err);
  }
  if (err instanceof BackendUnavailableError) {
    return new ConnectError("backend unavailable", Code.Unavailable, undefined, undefined, err);
  }
  if (err instanceof BackendClosedError) {
    return new ConnectError("server is shutting down", Code.Unavailable, undefined, undefined, err);
  }
  if (signal?.aborted) {
    return abortError(signal, err);
  }
  if (err instanceof Error && err.name === "TimeoutError") {
    return new ConnectError(
      "the operation timed out",
      Code.DeadlineExceeded,
      undefined,
      undefined,
      err,
    );
  }
  if (err instanceof Error && err.name === "AbortError") {
    return new ConnectError("the operation was canceled", Code.Canceled, undefined, undefined, err);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

/**
 * The error for work stopped because `signal` aborted: the signal's reason
 * when it is a ConnectError (connect-es aborts with DeadlineExceeded when the
 * deadline passes), else Canceled.
 *
 * @example
 * if (signal.aborted) throw abortError(signal);
 */
export function abortError(signal: AbortState, cause?: unknown): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new ConnectError(
      "the operation timed out",
      Code.DeadlineExceeded,
      undefined,
      undefined,
      reason,
    );
  }
  return new ConnectError(
    "the operation was canceled",
    Code.Canceled,
    undefined,
    undefined,
    cause ?? reason,
  );
}

/**
 * Throws the {@link abortError} when `signal` is aborted.
 *
 * @example
 * throwIfAborted(ctx.signal);
 */
export function throwIfAborted(signal: AbortState): void {
  if (signal.aborted) throw abortError(signal);
}

/**
 * Tells whether connect-es raised this error because a request message could
 * not be decoded (binary or JSON).
 */
export function isRequestDecodeError(err: ConnectError): boolean {
  return err.code === Code.Internal && /^parse (binary|json)?:?/.test(err.rawMessage);
}

function requestDecodeError(err: ConnectError): ConnectError {
  const detail = err.rawMessage.replace(/^parse (binary|json)?:?\s*/, "");
  return new ConnectError(
    `request: cannot decode message: ${detail}`,
    Code.InvalidArgument,
    undefined,
    undefined,
    err,
  );
}

/**
 * The Connect name of a code, in snake_case ("invalid_argument",
 * "permission_denied"), as used in ChatError.code and on the Connect wire.
 *
 * @example
 * codeName(Code.PermissionDenied); // "permission_denied"
 */
export function codeName(code: Code): string {
  const name = Code[code];
  if (typeof name !== "string") return String(code);
  return name
    .replace(/^[A-Z]/, (c) => c.toLowerCase())
    .replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
