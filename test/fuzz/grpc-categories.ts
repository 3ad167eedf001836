/**
 * gRPC over h2c: bad framing (truncated headers, lying length prefixes,
 * compression flags and encodings) and bad protobuf bodies (corrupt wire
 * format, random bytes, invalid UTF-8, deep nesting).
 *
 * @module
 */
import type http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { fromBinary } from "@bufbuild/protobuf";
import { ChatResponseSchema } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { defaultConnectionLimits } from "../../src/server/limits/settings.js";
import {
  describe,
  envelopes,
  expect,
  type FuzzCategory,
  type FuzzTarget,
  grpcCode,
  grpcStatus,
  hex,
  procedure,
} from "./category.js";
import type { Rng } from "./prng.js";
import {
  classify,
  corrupt,
  deepGroups,
  invalidUtf8,
  methodNames,
  stringFields,
  validRequest,
} from "./protobuf.js";
import { concat, envelope, type H2Response, h2Request } from "./wire.js";

/** The server's largest accepted request message (connect's readMaxBytes). */
export const maxMessageBytes = defaultConnectionLimits.maxMessageBytes;

/** Sends one gRPC call with raw body chunks. */
export async function grpcCall(
  t: FuzzTarget,
  method: string,
  body: readonly Uint8Array[],
  extra: http2.OutgoingHttpHeaders = {},
  opts: { keepOpen?: boolean } = {},
): Promise<H2Response> {
  const session = await t.session();
  return h2Request(session, {
    headers: {
      ":method": "POST",
      ":path": procedure(method),
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${t.token}`,
      ...extra,
    },
    body,
    keepOpen: opts.keepOpen ?? false,
  });
}

function expectCode(
  r: H2Response,
  allowed: readonly number[],
  what: string,
  message?: RegExp,
): void {
  const st = grpcStatus(r);
  expect(
    r.status === 200 &&
      st.code !== undefined &&
      allowed.includes(st.code) &&
      (message === undefined || message.test(st.message)),
    `${what}: want HTTP 200 with grpc-status in [${allowed}]${message ? ` and message ${message}` : ""}`,
    () => describe(r, st),
  );
}

let bomb: Uint8Array | undefined;
/** gzip of zeros that inflates to twice the message limit (about 8 KiB compressed). */
function gzipBomb(): Uint8Array {
  bomb ??= gzipSync(Buffer.alloc(maxMessageBytes * 2));
  return bomb;
}

/**
 * Framing. Codes are the ones connect-es defines, which follow the gRPC
 * protocol spec (PROTOCOL-HTTP2.md, "compression"):
 * - header cut short or length prefix longer than the body, then end of
 *   stream: InvalidArgument "protocol error: incomplete envelope";
 * - length prefix shorter than the body (unary): the rest is read as more
 *   envelopes, so InvalidArgument (incomplete/undecodable), Unimplemented
 *   (extra message for a unary method) or Internal (a following header with
 *   the compressed flag) — never OK;
 * - length prefix above the message limit: ResourceExhausted at once, without
 *   waiting for (or buffering) the body;
 * - compressed flag without grpc-encoding (or with identity): Internal;
 * - unknown grpc-encoding: Unimplemented, naming the supported encodings;
 * - gzip that does not inflate (corrupt or cut short): InvalidArgument;
 *   gzip inflating past the limit: ResourceExhausted;
 * - reserved flag bits (not the compressed bit) on a valid Send: ignored, OK.
 */
export const grpcFraming: FuzzCategory = {
  name: "grpc-framing",
  oracle:
    "InvalidArgument for truncated/long-lying envelopes and bad gzip, Unimplemented for unknown grpc-encoding, Internal for a compressed flag without encoding, ResourceExhausted above the message limit",
  weight: 14,
  async run(rng, t) {
    const method = rng.pick(methodNames);
    const valid = validRequest(method);
    const full = envelope(0, valid);
    switch (rng.int(9)) {
      case 0: {
        const cut = full.subarray(0, rng.range(1, 4));
        const r = await grpcCall(t, method, [cut]);
        return expectCode(
          r,
          [grpcCode.invalidArgument],
          `${method} header cut to ${hex(cut)}`,
          /incomplete envelope/,
        );
      }
      case 1: {
        const claimed =
          valid.length + rng.range(1, Math.min(100_000, maxMessageBytes - valid.length));
        const r = await grpcCall(t, method, [envelope(0, valid, claimed)]);
        return expectCode(
          r,
          [grpcCode.invalidArgument],
          `${method} length ${claimed} for ${valid.length} bytes`,
          /incomplete envelope/,
        );
      }
      case 2: {
        const unary = rng.pick(["Send", "History"] as const);
        const body = concat(validRequest(unary), rng.bytes(rng.range(1, 64)));
        const claimed = rng.int(body.length);
        const r = await grpcCall(t, unary, [envelope(0, body, claimed)]);
        return expectCode(
          r,
          [
            grpcCode.invalidArgument,
            grpcCode.unimplemented,
            grpcCode.internal,
            grpcCode.resourceExhausted,
          ],
          `${unary} length ${claimed} for ${body.length} bytes ${hex(body)}`,
        );
      }
      case 3: {
        const claimed = rng.range(maxMessageBytes + 1, 0xffffffff);
        const r = await grpcCall(
          t,
          method,
          [envelope(0, rng.bytes(rng.int(64)), claimed)],
          {},
          { keepOpen: true },
        );
        return expectCode(
          r,
          [grpcCode.resourceExhausted],
          `${method} length ${claimed}, body never sent`,
        );
      }
      case 4: {
        const encoding = rng.pick([undefined, "identity"]);
        const r = await grpcCall(
          t,
          method,
          [envelope(1 | (rng.int(128) << 1), valid)],
          encoding ? { "grpc-encoding": encoding } : {},
        );
        return expectCode(
          r,
          [grpcCode.internal],
          `${method} compressed flag, grpc-encoding ${encoding}`,
          /compress/,
        );
      }
      case 5: {
        const encoding = rng.pick([
          "br",
          "deflate",
          "snappy",
          "zstd",
          "x-gzip",
          "GZIP2",
          token(rng),
        ]);
        const r = await grpcCall(t, method, [envelope(1, valid)], { "grpc-encoding": encoding });
        // The gRPC spec also asks for a grpc-accept-encoding header here;
        // connect-es names the supported encodings in the message instead.
        return expectCode(
          r,
          [grpcCode.unimplemented],
          `${method} grpc-encoding ${encoding}`,
          /unknown compression .*supported encodings are gzip/,
        );
      }
      case 6: {
        // Random bytes (never the gzip magic number), or real gzip cut short.
        let junk = rng.bytes(rng.range(1, 256));
        junk[0] = 0x00;
        if (rng.chance(0.5)) {
          const gz = gzipSync(valid);
          junk = gz.subarray(0, rng.range(1, gz.length - 1));
        }
        const r = await grpcCall(t, method, [envelope(1, junk)], { "grpc-encoding": "gzip" });
        return expectCode(
          r,
          [grpcCode.invalidArgument],
          `${method} gzip garbage ${hex(junk)}`,
          /decompression failed/,
        );
      }
      case 7: {
        const r = await grpcCall(t, method, [envelope(1, gzipBomb())], { "grpc-encoding": "gzip" });
        return expectCode(
          r,
          [grpcCode.resourceExhausted],
          `${method} gzip inflating to ${maxMessageBytes * 2} bytes`,
        );
      }
      default: {
        const flags = rng.range(1, 127) << 1;
        const r = await grpcCall(t, "Send", [envelope(flags, validRequest("Send"))]);
        return expectCode(r, [grpcCode.ok], `Send with reserved flag bits 0x${flags.toString(16)}`);
      }
    }
  },
};

function token(rng: Rng): string {
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789-_";
  let s = "";
  for (let i = rng.range(1, 16); i > 0; i--) s += rng.pick([...chars]);
  return s === "gzip" || s === "identity" ? `${s}x` : s;
}

/** A field path as validation messages write it: `rooms[0].room`, `metadata.name`, `text`. */
const namesField = (field: string) => new RegExp(`(^|[.\\]])${field}(\\[\\d+\\])?: `);

/** Chat reports request errors as ChatError events; reads the first one, if any. */
function chatError(r: H2Response): { code: string; message: string } | undefined {
  for (const e of envelopes(r.body)) {
    if (e.flags !== 0) continue;
    const res = fromBinary(ChatResponseSchema, e.data);
    if (res.event.case === "error") return res.event.value;
  }
  return undefined;
}

/** Opaque tokens the service compares for equality only (see the README's Fuzzing section). */
const opaque = new Set(["Subscribe.epoch", "Chat.request_id"]);

/**
 * Bodies that are framed correctly but are not valid requests. The oracle
 * is protobuf-es itself, decoding the same bytes in the test process:
 * - it fails for a structural reason (truncated varint, length past the end,
 *   illegal wire type, field 0, unmatched or unterminated group, groups nested
 *   beyond its recursion limit of 100): InvalidArgument
 *   "request: cannot decode message: …" (connect-es says Internal; the
 *   server's request gate turns it into InvalidArgument — the client's fault);
 * - it fails only on invalid UTF-8: InvalidArgument naming the field (the
 *   server decodes leniently so that validation can name it); Chat reports
 *   it as a ChatError event `invalid_argument` naming the field; fields that
 *   are opaque tokens (a resume epoch, a Chat request_id) may instead be taken
 *   as a token that matches nothing;
 * - it succeeds: the service decides, but never Internal or Unknown.
 */
export const protobufBodies: FuzzCategory = {
  name: "protobuf-body",
  oracle:
    "InvalidArgument when protobuf-es cannot decode the body; InvalidArgument naming the field for invalid UTF-8; otherwise never Internal/Unknown",
  weight: 16,
  async run(rng, t) {
    const method = rng.pick(methodNames);
    const mode = rng.int(4);
    if (mode === 0) {
      const slot = rng.pick(stringFields[method]);
      const bad = invalidUtf8(rng);
      const isOpaque = opaque.has(`${method}.${slot.field}`);
      // A Subscribe that takes the bad epoch as a mere mismatch streams on: end it by a deadline.
      const deadline = isOpaque && method === "Subscribe" ? { "grpc-timeout": "1S" } : {};
      const r = await grpcCall(t, method, [envelope(0, slot.build(bad))], deadline);
      const what = `${method} invalid UTF-8 ${hex(bad)} in ${slot.field}`;
      const st = grpcStatus(r);
      if (isOpaque) {
        return expect(
          r.status === 200 &&
            st.code !== undefined &&
            ![grpcCode.internal, grpcCode.unknown].includes(st.code as 2 | 13),
          `${what}: want any status but Internal/Unknown`,
          () => describe(r, st),
        );
      }
      if (method === "Chat" && st.code === grpcCode.ok) {
        const err = chatError(r);
        return expect(
          err?.code === "invalid_argument" && namesField(slot.field).test(err.message),
          `${what}: want a ChatError invalid_argument naming ${slot.field}`,
          () => `${JSON.stringify(err)} ${describe(r, st)}`,
        );
      }
      return expectCode(r, [grpcCode.invalidArgument], what, namesField(slot.field));
    }
    let body: Uint8Array;
    let what: string;
    if (mode === 1) {
      const c = corrupt(rng, validRequest(method));
      body = c.bytes;
      what = `${method} ${c.how}: ${hex(body)}`;
    } else if (mode === 2) {
      body = rng.bytes(rng.size(512));
      what = `${method} random bytes ${hex(body)}`;
    } else {
      const depth = rng.range(1, 90);
      body = concat(validRequest(method), deepGroups(rng.range(100, 5000), depth));
      what = `${method} with groups nested ${depth} deep`;
    }
    const decoded = classify(method, body);
    const r = await grpcCall(
      t,
      method,
      [envelope(0, body)],
      // A decodable Subscribe may be valid and stream on: end it by a deadline.
      method === "Subscribe" && decoded !== "invalid" ? { "grpc-timeout": "1S" } : {},
    );
    if (decoded === "invalid") {
      return expectCode(
        r,
        [grpcCode.invalidArgument],
        `${what} (undecodable)`,
        /^request: cannot decode message: /,
      );
    }
    if (decoded === "utf8") {
      const st = grpcStatus(r);
      if (method === "Chat" && st.code === grpcCode.ok) return;
      return expect(
        r.status === 200 &&
          st.code !== undefined &&
          st.code !== grpcCode.internal &&
          st.code !== grpcCode.unknown &&
          st.code !== grpcCode.ok,
        `${what} (invalid UTF-8): want an error other than Internal/Unknown`,
        () => describe(r, st),
      );
    }
    const st = grpcStatus(r);
    return expect(
      r.status === 200 &&
        st.code !== undefined &&
        st.code !== grpcCode.internal &&
        st.code !== grpcCode.unknown,
      `${what} (decodable): want any grpc-status but Internal/Unknown`,
      () => describe(r, st),
    );
  },
};
