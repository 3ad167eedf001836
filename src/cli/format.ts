/**
 * How the CLI prints messages, files and sizes.
 *
 * @module
 */
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type FileInfo,
  FileInfoSchema,
  type Message,
  MessageSchema,
} from "../gen/switchboard/chat/v1/chat_pb.js";

/**
 * A byte count for humans: `512 B`, `1.5 KiB`, `5.0 MiB`.
 *
 * @example
 * formatBytes(5 * 1024 * 1024); // "5.0 MiB"
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * One message as text lines: `[room #offset hh:mm:ss] sender: text`, then one
 * line per attachment.
 *
 * @example
 * stdout.write(formatMessage(message));
 */
export function formatMessage(message: Message): string {
  const time = message.time ? timestampDate(message.time).toTimeString().slice(0, 8) : "--:--:--";
  const sender = message.sender?.displayName || message.sender?.id || "?";
  let out = `[${message.room} #${message.offset} ${time}] ${sender}: ${message.text}\n`;
  for (const file of message.attachments) {
    out += `  attachment: ${file.name} (${formatBytes(Number(file.size))}, ${file.contentType}) id ${file.id}\n`;
  }
  return out;
}

/**
 * One message as a line of canonical protobuf JSON.
 *
 * @example
 * stdout.write(messageJsonLine(message));
 */
export function messageJsonLine(message: Message): string {
  return `${JSON.stringify(toJson(MessageSchema, message))}\n`;
}

/**
 * A file's description as `key: value` lines (id, name, size, content type, sha256).
 *
 * @example
 * stdout.write(formatFileInfo(info));
 */
export function formatFileInfo(file: FileInfo): string {
  return [
    `id: ${file.id}`,
    `name: ${file.name}`,
    `size: ${file.size} (${formatBytes(Number(file.size))})`,
    `content-type: ${file.contentType}`,
    `sha256: ${file.sha256}`,
    "",
  ].join("\n");
}

/**
 * A file's description as a line of canonical protobuf JSON.
 *
 * @example
 * stdout.write(fileJsonLine(info));
 */
export function fileJsonLine(file: FileInfo): string {
  return `${JSON.stringify(toJson(FileInfoSchema, file))}\n`;
}
