/**
 * Abuse below the RPC protocols: HTTP/1.1 garbage on raw sockets, HTTP/2
 * abuse through `node:http2` (huge headers, many streams, resets right after
 * HEADERS), hand-made HTTP/2 frames (DATA after END_STREAM, random frames)
 * and truncated HTTP/2 prefaces.
 *
 * @module
 */
import http2 from "node:http2";
import { http2Preface } from "../../src/server/listen.js";
import {
  describe,
  expect,
  type FuzzCategory,
  grpcCode,
  grpcStatus,
  hex,
  procedure,
} from "./category.js";
import { errorCodeOf, flag, frame, frameType, hpack, parseFrames } from "./h2-frames.js";
import type { Rng } from "./prng.js";
import { validRequest } from "./protobuf.js";
import { envelope, h2Connect, h2Request, rawExchange } from "./wire.js";

const unknownPath = "/fuzz.Nope/Nope";
const statusLine = (text: string) => /^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1];

/** Request-line and header mutations that node's HTTP/1.1 parser (llhttp, strict mode) rejects. */
const brokenRequests: ((rng: Rng) => string)[] = [
  (rng) => `POST / HTTP/1.${rng.pick(["x", "", "11", " 1"])}\r\nHost: x\r\n\r\n`,
  (rng) => `POST / HTTP/${rng.range(3, 9)}.${rng.range(0, 9)}\r\nHost: x\r\n\r\n`,
  (rng) =>
    `PO${String.fromCharCode(rng.pick([0, 1, 9, 0x7f, 0x80, 0xff]))}ST / HTTP/1.1\r\nHost: x\r\n\r\n`,
  (rng) => `POST /a${String.fromCharCode(rng.pick([0, 1, 0x7f]))}b HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => `POST ${unknownPath} HTTP/1.1\nHost: x\n\n`,
  () => `POST ${unknownPath} HTTP/1.1\r\n\r\n`,
  () => `POST ${unknownPath} HTTP/1.1\r\nHost: x\r\nA : b\r\n\r\n`,
  () => `POST ${unknownPath} HTTP/1.1\r\nHost: x\r\nA: b\r\n folded\r\n\r\n`,
  (rng) =>
    `POST ${unknownPath} HTTP/1.1\r\nHost: x\r\nA${rng.pick(["(", ")", "@", "\u0000", "{", " "])}b: c\r\n\r\n`,
  () => `PRI * HTTP/1.1\r\n\r\n`,
  () => `${Buffer.from(http2Preface).toString("latin1").slice(0, 18)}XX\r\n\r\n`,
];

/** Body framing lies on a Connect call to Send; the handler reads the body, so the parser error decides the answer. */
const bodyLies: ((rng: Rng) => string)[] = [
  (rng) =>
    `Transfer-Encoding: chunked\r\n\r\n${rng.pick(["zz", "-1", "0x10", " ", "g"])}\r\nabc\r\n0\r\n\r\n`,
  (rng) => `Transfer-Encoding: chunked\r\n\r\n${"f".repeat(rng.range(17, 40))}\r\nabc\r\n`,
  () => `Transfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n`,
  (rng) => `Transfer-Encoding: chunked\r\n\r\n${rng.range(5, 4000).toString(16)}\r\nabc`,
  () => `Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`,
  (rng) =>
    `Transfer-Encoding: ${rng.pick(["gzip", "chunked, gzip", "identity", "chunkedx"])}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  () => `Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  (rng) =>
    `Content-Length: ${rng.pick(["-5", "abc", "1e3", "99999999999999999999999", "5, 6"])}\r\n\r\nabc`,
  (rng) => `Content-Length: 5\r\nContent-Length: ${rng.range(6, 99)}\r\n\r\nabcdef`,
  (rng) => `Content-Length: ${rng.range(10, 60_000)}\r\n\r\nabc`,
  (rng) =>
    `Transfer-Encoding: chunked\r\n\r\n3;${"x".repeat(rng.range(20_000, 40_000))}\r\nabc\r\n0\r\n\r\n`,
];

/**
 * HTTP/1.1 garbage, each case on a fresh connection that the fuzzer
 * half-closes after writing:
 * - random bytes: 400 and close — except a strict prefix of the HTTP/2
 *   preface (or nothing), which the sniffer drops without a reply, and
 *   nothing but CR/LF (empty lines, ignored before a request line);
 * - request lines and headers llhttp rejects (bad version, control
 *   characters in method or URL, bare LF, missing Host, space before the
 *   colon, obs-fold, bad header name characters, PRI over HTTP/1.1): 400;
 * - a request line plus headers over node's 16 KiB maxHeaderSize (counted as
 *   URL plus header names and values): 431 (RFC 6585); well under it: the
 *   normal answer, 404 for an unknown path;
 * - Transfer-Encoding/Content-Length lies on a call to Send (bad chunk size,
 *   overflowing size, missing CRLF, body cut short, CL with TE, conflicting or
 *   malformed CL, unknown codings, oversized chunk extensions): 400.
 */
export const http1Garbage: FuzzCategory = {
  name: "http1-garbage",
  oracle:
    "400 for unparsable requests and body framing lies, 431 for headers over 16 KiB, nothing for a truncated HTTP/2 preface",
  weight: 14,
  async run(rng, t) {
    const kind = rng.int(4);
    let input: Buffer;
    let want: string | undefined;
    if (kind === 0) {
      input = Buffer.from(rng.bytes(rng.size(2048)));
      const prefix =
        input.length < http2Preface.length && input.equals(http2Preface.subarray(0, input.length));
      // RFC 9112 §2.2: empty lines before a request line are ignored, so
      // input of nothing but CR and LF is no request at all: no reply.
      const emptyLines = /^[\r\n]+$/.test(input.toString("latin1"));
      want = prefix || emptyLines ? undefined : "400";
    } else if (kind === 1) {
      input = Buffer.from(rng.pick(brokenRequests)(rng), "latin1");
      want = "400";
    } else if (kind === 2) {
      const count = rng.range(1, 3000);
      const size = rng.range(1, rng.chance(0.5) ? 8 : 40);
      let head = `POST ${unknownPath} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n`;
      let counted = unknownPath.length + "Host".length + 1 + "Content-Length".length + 1;
      for (let i = 0; i < count; i++) {
        const n = `x-${i}`;
        const v = "v".repeat(size);
        head += `${n}: ${v}\r\n`;
        counted += n.length + v.length;
      }
      if (counted > 12_000 && counted < 20_000)
        head += `x-pad: ${"p".repeat(20_000 - counted)}\r\n`;
      input = Buffer.from(`${head}\r\n`, "latin1");
      want = counted <= 12_000 ? "404" : "431";
    } else {
      const lie = rng.pick(bodyLies)(rng);
      const head = `POST ${procedure("Send")} HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nAuthorization: Bearer ${t.token}\r\n`;
      input = Buffer.from(head + lie, "latin1");
      want = "400";
    }
    const chunks = rng.chance(0.2) ? split(rng, input) : [input];
    const reply = await rawExchange(t.port, chunks, { end: true, waitMs: 15_000 });
    const what = `HTTP/1.1 input ${JSON.stringify(input.subarray(0, 160).toString("latin1"))}${input.length > 160 ? `… (${input.length} bytes)` : ""} in ${chunks.length} writes`;
    const got = () =>
      `${JSON.stringify(reply.text.slice(0, 200))}${reply.error ? ` (${reply.error})` : ""}`;
    expect(reply.closed, `${what}: the server must close the connection`, got);
    if (want === undefined) {
      return expect(reply.text === "", `${what}: want no reply`, got);
    }
    expect(statusLine(reply.text) === want, `${what}: want HTTP ${want}`, got);
  },
};

function split(rng: Rng, input: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < input.length) {
    const n = rng.range(1, Math.max(1, Math.floor(input.length / 3)));
    out.push(input.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Headers for an h2 request to an unknown path, padded with `pairs` extra headers of `size` bytes. */
function paddedHeaders(pairs: number, size: number): http2.OutgoingHttpHeaders {
  const h: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": unknownPath };
  for (let i = 0; i < pairs; i++) h[`x-h${i}`] = "v".repeat(size);
  return h;
}

/**
 * HTTP/2 abuse through node:http2, each case on its own connection:
 * - headers up to the limits (at most 100 pairs and 60000 bytes): answered
 *   normally (404 for an unknown path); beyond them (over 140 pairs — node
 *   allows 128 — or over 70000 bytes — SETTINGS_MAX_HEADER_LIST_SIZE 65535):
 *   the stream is refused (RST_STREAM) or the connection closed, never answered;
 * - many concurrent streams (up to 150) of valid Sends and unknown paths on
 *   one connection: every one answered correctly (streams over
 *   SETTINGS_MAX_CONCURRENT_STREAMS wait in the client);
 * - streams reset (RST_STREAM CANCEL) right after HEADERS, or after part of
 *   the body: the connection stays usable — a valid Send on it succeeds.
 */
export const http2Abuse: FuzzCategory = {
  name: "http2-abuse",
  oracle:
    "headers within limits answered, beyond refused; every concurrent stream answered; resets leave the connection usable",
  weight: 6,
  async run(rng, t) {
    const session = await h2Connect(t.url);
    let goaway = "";
    session.on("goaway", (code, last) => {
      goaway = ` (after GOAWAY code ${code}, last stream ${last})`;
    });
    try {
      const send = () =>
        h2Request(session, {
          headers: {
            ":method": "POST",
            ":path": procedure("Send"),
            "content-type": "application/grpc",
            te: "trailers",
            authorization: `Bearer ${t.token}`,
          },
          body: [envelope(0, validRequest("Send"))],
        });
      const expectSent = async (what: string) => {
        const r = await send();
        const st = grpcStatus(r);
        expect(
          r.status === 200 && st.code === grpcCode.ok,
          `${what}: a valid Send on the same connection must succeed`,
          () => `${describe(r, st)}${goaway}`,
        );
      };
      const kind = rng.int(3);
      if (kind === 0) {
        const over = rng.chance(0.4);
        const pairs = over && rng.chance(0.5) ? rng.range(141, 400) : rng.range(1, 100);
        const size =
          over && pairs <= 100
            ? Math.ceil(rng.range(70_001, 200_000) / pairs)
            : rng.range(1, Math.floor(60_000 / pairs));
        const r = await h2Request(session, {
          headers: paddedHeaders(pairs, size),
          body: [],
          timeoutMs: 10_000,
        }).catch((e: Error) => e);
        const what = `${pairs} headers of ${size} bytes`;
        if (!over)
          return expect(!(r instanceof Error) && r.status === 404, `${what}: want HTTP 404`, () =>
            r instanceof Error ? r.message : describe(r),
          );
        return expect(
          r instanceof Error || r.status === undefined,
          `${what}: want the stream refused`,
          () => (r instanceof Error ? r.message : describe(r)),
        );
      }
      if (kind === 1) {
        const n = rng.range(10, 150);
        const calls = Array.from({ length: n }, (_, i) =>
          i % 3 === 0
            ? h2Request(session, {
                headers: { ":method": "POST", ":path": unknownPath },
                body: [],
              }).then((r) => r.status === 404)
            : send().then((r) => r.status === 200 && grpcStatus(r).code === grpcCode.ok),
        );
        const ok = await Promise.all(calls);
        return expect(
          ok.every(Boolean),
          `${n} concurrent streams: every one answered correctly`,
          () => `${ok.filter((x) => !x).length} wrong`,
        );
      }
      const n = rng.range(1, 30);
      for (let i = 0; i < n; i++) {
        const s = session.request({
          ":method": "POST",
          ":path": procedure(rng.pick(["Send", "Subscribe", "Upload", "Chat"])),
          "content-type": "application/grpc",
          authorization: `Bearer ${t.token}`,
        });
        s.on("error", () => {});
        if (rng.chance(0.5))
          s.write(envelope(0, validRequest("Send")).subarray(0, rng.range(1, 8)));
        s.close(http2.constants.NGHTTP2_CANCEL);
      }
      await expectSent(`${n} streams reset right after HEADERS`);
    } finally {
      session.destroy();
    }
  },
};

/**
 * Raw HTTP/2 frames on a fresh connection:
 * - a strict prefix of the connection preface, then end of stream: dropped
 *   without a reply (the sniffer cannot tell the protocol);
 * - the preface, then random frames (random type, flags, stream, payload and
 *   a length that may lie): the server still answers with its SETTINGS
 *   frame first, and any GOAWAY it sends carries a defined error code (0-13)
 *   — unless the connection was reset before any of it could be read;
 * - HEADERS with END_STREAM then DATA on the same stream, in one write: the
 *   stream is half-closed (remote), so the DATA is a STREAM_CLOSED error
 *   (RFC 9113, 5.1) — a RST_STREAM or GOAWAY with code 5 (or, if the
 *   answer raced ahead and closed the stream first, the 404 response).
 */
export const http2Frames: FuzzCategory = {
  name: "http2-frames",
  oracle:
    "truncated preface: no reply; random frames: SETTINGS first, defined error codes; DATA after END_STREAM: STREAM_CLOSED",
  weight: 6,
  async run(rng, t) {
    const kind = rng.int(3);
    if (kind === 0) {
      const cut = http2Preface.subarray(0, rng.range(1, http2Preface.length - 1));
      const reply = await rawExchange(t.port, [cut], { end: true, waitMs: 15_000 });
      return expect(
        reply.closed && reply.text === "",
        `preface cut to ${cut.length} bytes: want no reply and a close`,
        () => JSON.stringify(reply),
      );
    }
    const settings = frame(frameType.settings, 0, 0, new Uint8Array());
    const headers = hpack([
      [":method", "POST"],
      [":scheme", "http"],
      [":path", unknownPath],
      [":authority", "fuzz"],
    ]);
    let input: Uint8Array[];
    if (kind === 1) {
      input = [http2Preface, settings];
      for (let i = rng.range(1, 6); i > 0; i--) {
        const payload = rng.bytes(rng.size(64));
        const length = rng.chance(0.2) ? rng.int(1 << 24) : payload.length;
        input.push(
          frame(
            rng.int(12),
            rng.int(256),
            rng.chance(0.5) ? rng.int(8) : rng.int(2 ** 31),
            payload,
            length,
          ),
        );
      }
    } else {
      input = [
        http2Preface,
        settings,
        frame(frameType.headers, flag.endHeaders | flag.endStream, 1, headers),
        frame(frameType.data, rng.chance(0.5) ? flag.endStream : 0, 1, rng.bytes(rng.range(0, 32))),
      ];
    }
    const bytes = Buffer.concat(input);
    // Random frames: done at the server's GOAWAY or its SETTINGS ack (it
    // handles our bytes in order, so by then it has seen the random frames).
    // DATA after END_STREAM: done at the STREAM_CLOSED error or the response's end.
    const done = (text: string) => {
      const fs = parseFrames(Buffer.from(text, "latin1"));
      if (kind === 1) {
        return fs.some(
          (f) =>
            f.type === frameType.goaway ||
            (f.type === frameType.settings && (f.flags & flag.ack) === flag.ack),
        );
      }
      return fs.some(
        (f) =>
          errorCodeOf(f) !== undefined ||
          (f.streamId === 1 && (f.flags & flag.endStream) === flag.endStream),
      );
    };
    const reply = await rawExchange(t.port, [bytes], { end: false, waitMs: 10_000, done });
    const frames = parseFrames(Buffer.from(reply.text, "latin1"));
    const what = `frames ${hex(bytes.subarray(http2Preface.length), 96)}`;
    const summary = () =>
      `${frames.map((f) => `type ${f.type} flags ${f.flags} stream ${f.streamId} code ${errorCodeOf(f)}`).join("; ")} (${reply.text.length} bytes${reply.error ? `, ${reply.error}` : ""})`;
    // node:http2 destroys the socket right after its GOAWAY; if our bytes
    // were still unread the kernel resets the connection, and the reset can
    // overtake the server's frames. That is a teardown, not a wrong answer.
    if (reply.text === "" && reply.error !== undefined) return;
    expect(
      frames[0]?.type === frameType.settings && frames[0].streamId === 0,
      `${what}: want the server's SETTINGS first`,
      summary,
    );
    const codes = frames.map(errorCodeOf).filter((c) => c !== undefined);
    if (kind === 1)
      return expect(
        codes.every((c) => c <= 13),
        `${what}: want defined error codes`,
        summary,
      );
    const answered = frames.some((f) => f.type === frameType.headers && f.streamId === 1);
    expect(
      codes.includes(5) || (answered && codes.every((c) => c === 0 || c === 5)),
      `${what}: want STREAM_CLOSED (5)`,
      summary,
    );
  },
};
