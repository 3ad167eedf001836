/**
 * Named errors thrown by backends. `src/service/errors.ts` maps them to
 * Connect codes in one place; their messages never reach clients verbatim
 * unless documented as safe.
 *
 * @module
 */

/** The thing asked for does not exist (file id, …). The message is safe to show. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** A position past the end (download offset beyond the file size). The message is safe to show. */
export class OutOfRangeError extends Error {
  override name = "OutOfRangeError";
}

/** The backing store cannot be reached right now; retrying later may work. */
export class BackendUnavailableError extends Error {
  override name = "BackendUnavailableError";
}

/** The backend was closed (server shutting down). */
export class BackendClosedError extends Error {
  override name = "BackendClosedError";
  constructor(options?: ErrorOptions) {
    super("backend closed", options);
  }
}
