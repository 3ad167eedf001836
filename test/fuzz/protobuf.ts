/**
 * Protobuf request bodies for the fuzzer: a valid request per method, the
 * same request with invalid UTF-8 in one chosen string field, corruptions
 * that protobuf-es must reject, random bytes, and deeply nested groups. A
 * local decode with protobuf-es (strict UTF-8) classifies any body, which is
 * the oracle for what the server's decoder must do with it.
 *
 * @module
 */
import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import {
  ChatRequestSchema,
  DownloadRequestSchema,
  HistoryRequestSchema,
  SendRequestSchema,
  SubscribeRequestSchema,
  UploadRequestSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import type { Rng } from "./prng.js";
import { concat, lenField, tag, varint, varintField } from "./wire.js";

/** The ChatService methods and how they stream. */
export const methods = {
  Send: { input: SendRequestSchema, kind: "unary" },
  History: { input: HistoryRequestSchema, kind: "unary" },
  Subscribe: { input: SubscribeRequestSchema, kind: "server_streaming" },
  Download: { input: DownloadRequestSchema, kind: "server_streaming" },
  Upload: { input: UploadRequestSchema, kind: "client_streaming" },
  Chat: { input: ChatRequestSchema, kind: "bidi_streaming" },
} as const satisfies Record<string, { input: DescMessage; kind: string }>;

/** A method name of ChatService. */
export type MethodName = keyof typeof methods;

/** Every method name. */
export const methodNames = Object.keys(methods) as MethodName[];

const room = (r = "fuzz") => lenField(1, r);

/** A valid first request message for each method (the room is `fuzz`). */
export function validRequest(method: MethodName): Uint8Array {
  switch (method) {
    case "Send":
      return concat(room(), lenField(2, "fuzz says hi"));
    case "History":
      return room();
    case "Subscribe":
      return lenField(1, room());
    case "Download":
      return lenField(1, "no-such-file");
    case "Upload":
      return lenField(
        1,
        concat(lenField(1, "f.txt"), lenField(2, "text/plain"), lenField(4, "fuzz")),
      );
    case "Chat":
      return concat(lenField(1, "r1"), lenField(2, lenField(1, room())));
  }
}

/** A string field of a method's request, and how to build a request with given bytes in it. */
export interface StringFieldSlot {
  /** The field's name as validation messages name it (the last path segment). */
  readonly field: string;
  build(bytes: Uint8Array): Uint8Array;
}

const text = lenField(2, "hi");

/** Every string field the fuzzer puts invalid UTF-8 into, per method. */
export const stringFields: Record<MethodName, readonly StringFieldSlot[]> = {
  Send: [
    { field: "room", build: (b) => concat(lenField(1, b), text) },
    { field: "text", build: (b) => concat(room(), lenField(2, b)) },
    { field: "attachment_file_ids", build: (b) => concat(room(), text, lenField(3, b)) },
    { field: "client_message_id", build: (b) => concat(room(), text, lenField(4, b)) },
  ],
  History: [{ field: "room", build: (b) => lenField(1, b) }],
  Subscribe: [
    { field: "room", build: (b) => lenField(1, lenField(1, b)) },
    { field: "epoch", build: (b) => lenField(1, concat(room(), lenField(4, b))) },
  ],
  Download: [{ field: "file_id", build: (b) => lenField(1, b) }],
  Upload: [
    {
      field: "name",
      build: (b) =>
        lenField(1, concat(lenField(1, b), lenField(2, "text/plain"), lenField(4, "fuzz"))),
    },
    {
      field: "content_type",
      build: (b) => lenField(1, concat(lenField(1, "f.txt"), lenField(2, b), lenField(4, "fuzz"))),
    },
    {
      field: "room",
      build: (b) =>
        lenField(1, concat(lenField(1, "f.txt"), lenField(2, "text/plain"), lenField(4, b))),
    },
  ],
  Chat: [
    { field: "request_id", build: (b) => concat(lenField(1, b), lenField(3, lenField(1, "fuzz"))) },
    {
      field: "room",
      build: (b) => concat(lenField(1, "r"), lenField(2, lenField(1, lenField(1, b)))),
    },
    { field: "room", build: (b) => concat(lenField(1, "r"), lenField(3, lenField(1, b))) },
    {
      field: "text",
      build: (b) => concat(lenField(1, "r"), lenField(4, concat(room(), lenField(2, b)))),
    },
  ],
};

/** Bytes that are not valid UTF-8 (lone continuation, overlong, surrogate, truncated, 0xFF…). */
export function invalidUtf8(rng: Rng): Uint8Array {
  const bad = rng.pick([
    [0x80],
    [0xc0, 0xaf],
    [0xc3, 0x28],
    [0xe0, 0x80, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xf0, 0x9f, 0x98],
    [0xff],
    [0xfe, 0xfe],
  ]);
  const before = Buffer.from("abc".slice(0, rng.int(4)));
  const after = Buffer.from("xyz".slice(0, rng.int(4)));
  return concat(before, Uint8Array.from(bad), after);
}

/** How protobuf-es (strict UTF-8) decodes a body. */
export type Decoded = "ok" | "utf8" | "invalid";

/** Decodes `bytes` as the method's request locally and classifies the result. */
export function classify(method: MethodName, bytes: Uint8Array): Decoded {
  try {
    fromBinary(methods[method].input, bytes);
    return "ok";
  } catch (e) {
    return /utf-?8/i.test(String((e as Error).message)) ? "utf8" : "invalid";
  }
}

/**
 * Corrupts a valid body so that it can no longer be decoded: a truncated
 * varint, a length running past the end, an illegal wire type, field number
 * 0, an unmatched end-group, an unterminated group, or groups nested past
 * protobuf-es's recursion limit of 100.
 */
export function corrupt(rng: Rng, valid: Uint8Array): { bytes: Uint8Array; how: string } {
  const unknown = rng.range(100, 5000);
  switch (rng.int(7)) {
    case 0:
      return {
        bytes: concat(valid, tag(unknown, 0), Uint8Array.from([0x80 | rng.int(128)])),
        how: "truncated varint",
      };
    case 1: {
      const claimed = rng.range(1, 1 << 20);
      const body = rng.bytes(rng.int(Math.min(claimed, 64)));
      return {
        bytes: concat(valid, tag(unknown, 2), varint(claimed), body),
        how: "length past the end",
      };
    }
    case 2:
      return {
        bytes: concat(valid, tag(unknown, rng.pick([6, 7])), rng.bytes(rng.int(8))),
        how: "illegal wire type",
      };
    case 3:
      return { bytes: concat(Uint8Array.from([rng.int(8)]), valid), how: "field number 0" };
    case 4:
      return { bytes: concat(valid, tag(unknown, 4)), how: "unmatched end-group" };
    case 5:
      return {
        bytes: concat(valid, tag(unknown, 3), varintField(unknown + 1, 1)),
        how: "unterminated group",
      };
    default: {
      const depth = rng.range(101, 20_000);
      return {
        bytes: concat(valid, deepGroups(unknown, depth)),
        how: `groups nested ${depth} deep`,
      };
    }
  }
}

/** `depth` well-formed groups nested in each other. */
export function deepGroups(field: number, depth: number): Uint8Array {
  const open = tag(field, 3);
  const close = tag(field, 4);
  const out = Buffer.alloc((open.length + close.length) * depth);
  for (let i = 0; i < depth; i++) out.set(open, i * open.length);
  for (let i = 0; i < depth; i++) out.set(close, depth * open.length + i * close.length);
  return out;
}
