/**
 * Connect unary calls with bad bodies, gRPC-Web bodies with bad trailer
 * frames, unknown routes, wrong content types and wrong HTTP methods — sent
 * over the worker's h2c session or its HTTP/1.1 keep-alive agent.
 *
 * @module
 */
import http from "node:http";
import type http2 from "node:http2";
import {
  describe,
  expect,
  type FuzzCategory,
  type FuzzTarget,
  grpcCode,
  grpcWebStatus,
  hex,
  procedure,
} from "./category.js";
import { maxMessageBytes } from "./grpc-categories.js";
import type { Rng } from "./prng.js";
import { corrupt, methodNames, validRequest } from "./protobuf.js";
import { concat, envelope, type H2Response, h2Request } from "./wire.js";

/** One request over HTTP/1.1 (keep-alive agent) or h2c (shared session). */
async function call(
  t: FuzzTarget,
  rng: Rng,
  headers: Record<string, string>,
  body: Uint8Array,
  opts: { method?: string; path: string; keepOpen?: boolean; forceH2?: boolean },
): Promise<H2Response & { via: string }> {
  const method = opts.method ?? "POST";
  if (opts.forceH2 || rng.chance(0.6)) {
    const session = await t.session();
    const h: http2.OutgoingHttpHeaders = { ":method": method, ":path": opts.path, ...headers };
    const r = await h2Request(session, {
      headers: h,
      body: method === "GET" ? [] : [body],
      keepOpen: opts.keepOpen ?? false,
    });
    return { ...r, via: "h2c" };
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(opts.path, t.url),
      {
        method,
        agent: t.agent,
        // node sends bodies of DELETE (and GET) without any framing unless told the length.
        headers: method === "GET" ? headers : { ...headers, "content-length": String(body.length) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            headers: res.headers as http2.IncomingHttpHeaders,
            trailers: res.trailers as http2.IncomingHttpHeaders,
            body: Buffer.concat(chunks),
            via: "http/1.1",
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("no response within 10 s")));
    req.on("error", reject);
    if (method === "GET") req.end();
    else req.end(Buffer.from(body));
  });
}

const auth = (t: FuzzTarget) => ({ authorization: `Bearer ${t.token}` });

function connectError(r: H2Response): string | undefined {
  try {
    return (JSON.parse(r.body.toString("utf8")) as { code?: string }).code;
  } catch {
    return undefined;
  }
}

function expectConnect(
  r: H2Response & { via: string },
  status: number,
  code: string,
  what: string,
) {
  expect(
    r.status === status && connectError(r) === code,
    `${what} (${r.via}): want HTTP ${status} {"code":"${code}"}`,
    () => describe(r),
  );
}

const jsonMutations: ((rng: Rng, s: string) => string)[] = [
  (rng, s) => s.slice(0, rng.int(s.length)),
  (rng, s) => {
    const i = rng.int(s.length + 1);
    return (
      s.slice(0, i) +
      rng.pick(["{", "}", "[", "]", ",", ":", '"', "\\", "\u0000", "'", "NaN", "\ud800"]) +
      s.slice(i)
    );
  },
  (rng) => Buffer.from(rng.bytes(rng.range(1, 64))).toString("latin1"),
  (rng, s) => s.replace(/"/g, rng.pick(["'", ""])),
];

const wrongJson = [
  "null",
  "[]",
  "1",
  '"room"',
  '{"room":5,"text":"x"}',
  '{"room":{},"text":"x"}',
  '{"room":"fuzz","text":["x"]}',
  '{"room":"fuzz","text":"x","attachmentFileIds":"a"}',
  '{"room":"fuzz","text":"x","attachmentFileIds":[1]}',
  '{"room":"fuzz","text":true}',
];

/**
 * Connect unary (Send/History, JSON and binary). Every bad body is the
 * client's fault: HTTP 400 with a Connect error `invalid_argument` (the
 * Connect protocol maps invalid_argument to 400): unparsable JSON, JSON of
 * the wrong shape or types, undecodable protobuf, gzip that does not
 * inflate, a malformed connect-timeout-ms. An unknown Content-Encoding is
 * `unimplemented` (HTTP 501); a Content-Length above the message limit is
 * `resource_exhausted` (HTTP 429), answered before the body arrives.
 */
export const connectUnary: FuzzCategory = {
  name: "connect-unary",
  oracle:
    "HTTP 400 invalid_argument for bad JSON/proto/gzip/timeout; 501 unimplemented for unknown Content-Encoding; 429 resource_exhausted for a Content-Length above the limit",
  weight: 12,
  async run(rng, t) {
    const m = rng.pick(["Send", "History"] as const);
    const path = procedure(m);
    const valid = m === "Send" ? '{"room":"fuzz","text":"hi"}' : '{"room":"fuzz"}';
    switch (rng.int(6)) {
      case 0: {
        let s = valid;
        for (let i = 0; i < 8 && isJson(s); i++) s = rng.pick(jsonMutations)(rng, s);
        if (isJson(s)) s = `${s}}`;
        const r = await call(
          t,
          rng,
          { ...auth(t), "content-type": "application/json" },
          Buffer.from(s, "latin1"),
          { path },
        );
        return expectConnect(r, 400, "invalid_argument", `${m} JSON ${JSON.stringify(s)}`);
      }
      case 1: {
        const s = rng.pick(wrongJson);
        const r = await call(
          t,
          rng,
          { ...auth(t), "content-type": "application/json" },
          Buffer.from(s),
          { path: procedure("Send") },
        );
        return expectConnect(r, 400, "invalid_argument", `Send JSON ${s}`);
      }
      case 2: {
        const c = corrupt(rng, validRequest(m));
        const r = await call(t, rng, { ...auth(t), "content-type": "application/proto" }, c.bytes, {
          path,
        });
        return expectConnect(r, 400, "invalid_argument", `${m} proto ${c.how} ${hex(c.bytes)}`);
      }
      case 3: {
        const junk = rng.bytes(rng.range(1, 128));
        junk[0] = 0;
        const enc = rng.pick(["gzip", "br", "deflate", "zstd", "x-zip"]);
        const r = await call(
          t,
          rng,
          { ...auth(t), "content-type": "application/proto", "content-encoding": enc },
          junk,
          { path },
        );
        return enc === "gzip"
          ? expectConnect(r, 400, "invalid_argument", `${m} gzip garbage`)
          : expectConnect(r, 501, "unimplemented", `${m} content-encoding ${enc}`);
      }
      case 4: {
        const v = rng.pick(["abc", "-1", "1.5", "12345678901", "", "0x10", "5s"]);
        const r = await call(
          t,
          rng,
          { ...auth(t), "content-type": "application/json", "connect-timeout-ms": v },
          Buffer.from(valid),
          { path },
        );
        if (v === "")
          return expect(r.status !== undefined && r.status < 500, "empty connect-timeout-ms", () =>
            describe(r),
          );
        return expectConnect(
          r,
          400,
          "invalid_argument",
          `${m} connect-timeout-ms ${JSON.stringify(v)}`,
        );
      }
      default: {
        const length = rng.range(maxMessageBytes + 1, 2 ** 40);
        const r = await call(
          t,
          rng,
          { ...auth(t), "content-type": "application/proto", "content-length": String(length) },
          Buffer.from("x"),
          { path, keepOpen: true, forceH2: true },
        );
        return expectConnect(
          r,
          429,
          "resource_exhausted",
          `${m} content-length ${length}, body never sent`,
        );
      }
    }
  },
};

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * gRPC-Web requests to Send. connect-es skips frames with the trailer flag
 * (0x80) in a request, whatever they contain, so: trailer frames only →
 * Unimplemented (no input message for a unary method); a valid message
 * plus any trailer frames → OK; a frame header cut short or a length prefix
 * longer than the rest → InvalidArgument "incomplete envelope" (but see
 * the connect-es gap for a bare final header below). The status
 * is read from the trailer frame of the response body (or the headers of a
 * trailers-only response).
 */
export const grpcWebBodies: FuzzCategory = {
  name: "grpc-web",
  oracle:
    "trailer frames only: Unimplemented; message + junk trailer frames: OK; lying trailer length or cut header: InvalidArgument",
  weight: 8,
  async run(rng, t) {
    const trailer = () => envelope(0x80 | (rng.int(128) & 0xfe), rng.bytes(rng.size(200)));
    const headers = {
      ...auth(t),
      "content-type": rng.pick(["application/grpc-web", "application/grpc-web+proto"]),
      "x-grpc-web": "1",
    };
    const frames: Uint8Array[] = [];
    let want: number;
    const kind = rng.int(4);
    if (kind === 0) {
      for (let i = rng.range(1, 3); i > 0; i--) frames.push(trailer());
      want = grpcCode.unimplemented;
    } else if (kind === 1) {
      for (let i = rng.int(3); i > 0; i--) frames.push(trailer());
      frames.push(envelope(0, validRequest("Send")));
      for (let i = rng.range(1, 3); i > 0; i--) frames.push(trailer());
      want = grpcCode.ok;
    } else if (kind === 2) {
      const data = rng.bytes(rng.range(0, 100));
      frames.push(
        envelope(0, validRequest("Send")),
        envelope(0x80, data, data.length + rng.range(1, 10_000)),
      );
      // connect-es 2.2 misses a final header whose body is entirely absent
      // (its envelope decoder only checks for buffered bytes at the end), so
      // a bare 5-byte header is ignored and the Send succeeds. Reported; both
      // outcomes are accepted until it is fixed upstream.
      want = data.length === 0 ? -1 : grpcCode.invalidArgument;
    } else {
      frames.push(envelope(0, validRequest("Send")), trailer().subarray(0, rng.range(1, 4)));
      want = grpcCode.invalidArgument;
    }
    const body = concat(...frames);
    const r = await call(t, rng, headers, body, { path: procedure("Send") });
    const st = grpcWebStatus(r);
    const ok =
      want === -1
        ? st.code === grpcCode.invalidArgument || st.code === grpcCode.ok
        : st.code === want;
    expect(
      r.status === 200 && ok,
      `gRPC-Web Send body ${hex(body)} (${r.via}): want grpc-status ${want}`,
      () => describe(r, st),
    );
  },
};

const wrongContentTypes = [
  "text/plain",
  "text/html; charset=utf-8",
  "application/xml",
  "application/octet-stream",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "application/grpc+xml",
  "application/grpc-web+xml",
  "application/grpc-web-text",
  "application/grpc-web-text+proto",
  "application/connect+xml",
  "application/protobuf",
  "application/x-protobuf",
  "application/jsonx",
  "application/json; charset=latin1",
  "application/grpcx",
  "grpc",
  "application/",
];

/**
 * Routing and media types, over HTTP/1.1 and h2c:
 * - POST to an unknown service or method (wrong case, typo, extra segment,
 *   random names): HTTP 404 — the router has no such procedure; gRPC and
 *   Connect clients map 404 to Unimplemented (gRPC's HTTP-to-status table,
 *   Connect's HTTP-to-code table);
 * - POST to a real procedure with a content type no protocol accepts (or a
 *   unary type on a streaming method and vice versa, or none): HTTP 415;
 * - Chat over HTTP/1.1: HTTP 505 whatever the content type or HTTP method
 *   (connect-es serves bidi streaming over HTTP/2 only and checks that first);
 * - GET/PUT/DELETE/PATCH on a real procedure: HTTP 405 (only POST, and GET
 *   for idempotent methods, are allowed; no method here is idempotent).
 */
export const routesAndTypes: FuzzCategory = {
  name: "routes-and-types",
  oracle:
    "404 for unknown services/methods; 415 for unsupported content types; 405 for other HTTP methods",
  weight: 10,
  async run(rng, t) {
    const ct = rng.pick([
      "application/grpc",
      "application/proto",
      "application/json",
      "application/grpc-web+proto",
      "application/connect+proto",
    ]);
    const kind = rng.int(3);
    if (kind === 0) {
      const method = rng.pick(methodNames);
      const path = rng.pick([
        () => procedure(method.toLowerCase()),
        () => procedure(`${method}${name(rng)}`),
        () => `${procedure(method)}/${name(rng)}`,
        () => `/switchboard.chat.v1.${name(rng)}/${method}`,
        () => `/switchboard.chat.v2.ChatService/${method}`,
        () => `/${name(rng)}.${name(rng)}/${name(rng)}`,
        () => `/${name(rng)}`,
        () => `/${"a".repeat(rng.range(100, 4000))}/${method}`,
        () => procedure(`%${rng.int(256).toString(16).padStart(2, "0")}${name(rng)}`),
      ])();
      const r = await call(
        t,
        rng,
        { ...auth(t), "content-type": ct },
        envelope(0, validRequest(method)),
        { path },
      );
      return expect(r.status === 404, `POST ${path} (${ct}, ${r.via}): want HTTP 404`, () =>
        describe(r),
      );
    }
    const method = rng.pick(methodNames);
    if (kind === 1) {
      const unaryTypes = ["application/proto", "application/json"];
      const streamTypes = ["application/connect+proto", "application/connect+json"];
      const unary = method === "Send" || method === "History";
      const type = rng.chance(0.2)
        ? rng.pick(unary ? streamTypes : unaryTypes)
        : rng.chance(0.1)
          ? undefined
          : rng.pick(wrongContentTypes);
      const headers: Record<string, string> = { ...auth(t) };
      if (type !== undefined) headers["content-type"] = type;
      const r = await call(t, rng, headers, envelope(0, validRequest(method)), {
        path: procedure(method),
      });
      // connect-es refuses bidi streaming over HTTP/1.1 before it looks at the content type.
      const want = method === "Chat" && r.via === "http/1.1" ? 505 : 415;
      return expect(
        r.status === want,
        `${method} with content-type ${type} (${r.via}): want HTTP ${want}`,
        () => describe(r),
      );
    }
    const verb = rng.pick(["GET", "PUT", "DELETE", "PATCH"]);
    const r = await call(
      t,
      rng,
      { ...auth(t), "content-type": ct },
      envelope(0, validRequest(method)),
      { method: verb, path: procedure(method) },
    );
    const want = method === "Chat" && r.via === "http/1.1" ? 505 : 405;
    return expect(
      r.status === want,
      `${verb} ${procedure(method)} (${r.via}): want HTTP ${want}`,
      () => describe(r),
    );
  },
};

function name(rng: Rng): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
  let s = "";
  for (let i = rng.range(1, 24); i > 0; i--) s += rng.pick([...chars]);
  return `X${s}`;
}
