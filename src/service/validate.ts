/**
 * Request validation. Every check throws `ConnectError(Code.InvalidArgument)`
 * whose message starts with the path of the offending field, e.g.
 * `rooms[1].room: must be 1-128 characters of [A-Za-z0-9._:@-]`, so a client
 * can tell exactly what to fix.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { RoomPosition } from "../gen/switchboard/chat/v1/chat_pb.js";
import type { ServiceLimits } from "./limits.js";

/** Maximum length of a client_message_id. */
export const maxClientMessageIdLength = 128;
/** Maximum length of a file name, in characters. */
export const maxFileNameLength = 255;
/** Maximum length of a content type. */
export const maxContentTypeLength = 255;
/** Maximum length of a file id. */
export const maxFileIdLength = 256;
/** History page size used when the request asks for 0. */
export const defaultHistoryLimit = 100;
/** Largest history page a client may ask for. */
export const maxHistoryLimit = 1000;
/** Content type used when an upload gives none. */
export const defaultContentType = "application/octet-stream";

const roomPattern = /^[A-Za-z0-9._:@-]{1,128}$/;
const token = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const contentTypePattern = new RegExp(
  `^${token}/${token}(?:[ \\t]*;[ \\t]*${token}=(?:${token}|"[^"\\\\\\r\\n]*"))*$`,
);
// C0 controls, DEL and C1 controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlChars = /[\u0000-\u001f\u007f-\u009f]/;
const utf8 = new TextEncoder();
// With the `u` flag a paired surrogate is one code point, so this finds only lone ones.
const loneSurrogate = /\p{Surrogate}/u;

/** Tells whether a string is well-formed Unicode (encodes to UTF-8 without loss). */
export function isWellFormed(text: string): boolean {
  return !loneSurrogate.test(text);
}

/**
 * Builds the InvalidArgument error for a field.
 *
 * @example
 * throw invalidArgument("rooms[0].room", "must not be empty");
 */
export function invalidArgument(path: string, problem: string): ConnectError {
  return new ConnectError(`${path}: ${problem}`, Code.InvalidArgument);
}

/**
 * Checks a room name: 1-128 characters of `[A-Za-z0-9._:@-]`.
 *
 * @example
 * validateRoom(req.room, "room");
 */
export function validateRoom(room: string, path: string): string {
  if (!roomPattern.test(room)) {
    throw invalidArgument(path, "must be 1-128 characters of [A-Za-z0-9._:@-]");
  }
  return room;
}

/**
 * Checks a message text: well-formed Unicode (no lone surrogates) and at most
 * `maxBytes` bytes of UTF-8. The text may be empty.
 *
 * Invalid UTF-8 on the wire never gets this far: protobuf-es refuses it while
 * decoding the request (see `errors.ts` for how that becomes InvalidArgument).
 * This check catches strings that are not valid Unicode once decoded (JSON
 * `\ud800` escapes).
 *
 * @example
 * validateText(req.text, "text", limits.maxTextBytes);
 */
export function validateText(text: string, path: string, maxBytes: number): string {
  if (!isWellFormed(text)) {
    throw invalidArgument(path, "must be valid UTF-8 (found an unpaired surrogate)");
  }
  // Cheap upper bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (text.length * 3 > maxBytes && utf8.encode(text).byteLength > maxBytes) {
    throw invalidArgument(path, `must be at most ${maxBytes} bytes of UTF-8`);
  }
  return text;
}

/**
 * Checks the number of attachments of a message.
 *
 * @example
 * validateAttachmentCount(req.attachmentFileIds, "attachment_file_ids", 16);
 */
export function validateAttachmentCount(ids: readonly string[], path: string, max: number): void {
  if (ids.length > max) {
    throw invalidArgument(path, `at most ${max} attachments are allowed, got ${ids.length}`);
  }
  ids.forEach((id, i) => {
    validateFileId(id, `${path}[${i}]`);
  });
}

/**
 * Checks an idempotency key: at most 128 characters, well-formed, no control
 * characters. Empty means "no key".
 *
 * @example
 * validateClientMessageId(req.clientMessageId, "client_message_id");
 */
export function validateClientMessageId(id: string, path: string): string {
  if (id.length > maxClientMessageIdLength) {
    throw invalidArgument(path, `must be at most ${maxClientMessageIdLength} characters`);
  }
  if (!isWellFormed(id) || controlChars.test(id)) {
    throw invalidArgument(path, "must not contain control characters or unpaired surrogates");
  }
  return id;
}

/**
 * Checks a file id given by a client (Download, attachments): non-empty,
 * bounded, printable.
 *
 * @example
 * validateFileId(req.fileId, "file_id");
 */
export function validateFileId(id: string, path: string): string {
  if (id.length === 0) {
    throw invalidArgument(path, "must not be empty");
  }
  if (id.length > maxFileIdLength || !isWellFormed(id) || controlChars.test(id)) {
    throw invalidArgument(path, "is not a valid file id");
  }
  return id;
}

/**
 * Checks a file name: 1-255 characters, no `/`, `\`, NUL or other control
 * characters, and not `.` or `..`.
 *
 * @example
 * validateFileName(meta.name, "metadata.name");
 */
export function validateFileName(name: string, path: string): string {
  const length = [...name].length;
  if (length < 1 || length > maxFileNameLength) {
    throw invalidArgument(path, `must be 1-${maxFileNameLength} characters`);
  }
  if (/[/\\]/.test(name)) {
    throw invalidArgument(path, "must not contain path separators (/ or \\)");
  }
  if (controlChars.test(name)) {
    throw invalidArgument(path, "must not contain NUL or other control characters");
  }
  if (!isWellFormed(name)) {
    throw invalidArgument(path, "must be valid UTF-8 (found an unpaired surrogate)");
  }
  if (name === "." || name === "..") {
    throw invalidArgument(path, 'must not be "." or ".."');
  }
  return name;
}

/**
 * Checks a MIME type (`type/subtype` with optional parameters); empty means
 * `application/octet-stream`. Returns the type to store.
 *
 * @example
 * const contentType = validateContentType(meta.contentType, "metadata.content_type");
 */
export function validateContentType(contentType: string, path: string): string {
  if (contentType === "") return defaultContentType;
  if (contentType.length > maxContentTypeLength || !contentTypePattern.test(contentType)) {
    throw invalidArgument(path, 'must be a MIME type such as "text/plain; charset=utf-8"');
  }
  return contentType;
}

/**
 * Resolves a History page size: 0 means 100, the maximum is 1000.
 *
 * @example
 * const limit = validateHistoryLimit(req.limit, "limit");
 */
export function validateHistoryLimit(limit: number, path: string): number {
  if (limit === 0) return defaultHistoryLimit;
  if (limit > maxHistoryLimit) {
    throw invalidArgument(path, `must be at most ${maxHistoryLimit}, got ${limit}`);
  }
  return limit;
}

/**
 * Checks the rooms of a Subscribe request: at least one, at most
 * `limits.maxRoomsPerSubscription`, each a valid name, none twice.
 *
 * @example
 * validateRoomPositions(req.rooms, "rooms", limits);
 */
export function validateRoomPositions(
  positions: readonly RoomPosition[],
  path: string,
  limits: Pick<ServiceLimits, "maxRoomsPerSubscription">,
): void {
  if (positions.length === 0) {
    throw invalidArgument(path, "must name at least one room");
  }
  if (positions.length > limits.maxRoomsPerSubscription) {
    throw invalidArgument(
      path,
      `at most ${limits.maxRoomsPerSubscription} rooms per subscription, got ${positions.length}`,
    );
  }
  const seen = new Map<string, number>();
  positions.forEach((position, i) => {
    validateRoomPosition(position, `${path}[${i}]`);
    const first = seen.get(position.room);
    if (first !== undefined) {
      throw invalidArgument(
        `${path}[${i}].room`,
        `duplicates ${path}[${first}] ("${position.room}")`,
      );
    }
    seen.set(position.room, i);
  });
}

/**
 * Checks one RoomPosition (room name, epoch length).
 *
 * @example
 * validateRoomPosition(join.position, "join.position");
 */
export function validateRoomPosition(position: RoomPosition, path: string): void {
  validateRoom(position.room, `${path}.room`);
  if (position.epoch.length > 128 || !isWellFormed(position.epoch)) {
    throw invalidArgument(`${path}.epoch`, "must be at most 128 characters of valid UTF-8");
  }
}
