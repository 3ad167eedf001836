/**
 * The fast path speaks the same wire protocols as connect-node: the same
 * requests, sent to one server with the fast path and one without, get
 * byte-identical answers (status, headers but Date, body, trailers) — for
 * successes, errors from the gate, the decoder, the handler and the
 * deadline, response compression, handler-set headers and trailers, and
 * the irregular requests the fast path hands to the library. Each case
 * also checks that the fast path really served (or passed on) the call.
 *
 * @module
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { serverConfigFromEnv } from "../src/server/config.js";
import { startTestServer } from "./helpers/start-server.js";
import {
  connectHeaders,
  envelope,
  grpcHeaders,
  h1Exchange,
  h2Exchange,
  type ServerPair,
  startServerPair,
} from "./helpers/wire-exchange.js";
import { PayloadSchema, SimpleRequestSchema } from "./interop/gen/grpc/testing/messages_pb.js";
import { TestService } from "./interop/gen/grpc/testing/test_pb.js";

const path = "/grpc.testing.TestService/UnaryCall";

/** A TestService whose UnaryCall exercises every response feature. */
function routes(router: ConnectRouter): void {
  router.service(TestService, {
    async unaryCall(req, ctx) {
      ctx.responseHeader.set("x-echo", "header");
      ctx.responseTrailer.set("x-echo-trailer", "trailer");
      const status = req.responseStatus;
      if (status && status.code !== 0) {
        throw new ConnectError(status.message, status.code as Code, { "x-error-meta": "m" }, [
          { desc: PayloadSchema, value: { body: new Uint8Array([1, 2, 3]) } },
        ]);
      }
      if (req.fillUsername) throw new Error("a bug with a secret inside");
      if (req.fillOauthScope) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        ctx.signal.throwIfAborted();
      }
      const body = new Uint8Array(req.responseSize).fill(7);
      return { payload: { body: req.responseSize > 0 ? body : (req.payload?.body ?? body) } };
    },
  });
}

function request(init: Parameters<typeof create<typeof SimpleRequestSchema>>[1]): Uint8Array {
  return toBinary(SimpleRequestSchema, create(SimpleRequestSchema, init));
}

interface Case {
  name: string;
  h2: boolean;
  headers: (token: string) => Record<string, string>;
  body: Buffer;
  /** Served by the fast path (true) or handed to the library (false). */
  fast: boolean;
}

const grpc = grpcHeaders;
const connect = connectHeaders;
const echo = request({ payload: { body: new Uint8Array([104, 105]) } });
const large = request({ responseSize: 4096 });
const failing = request({
  responseStatus: { code: Code.FailedPrecondition, message: "no: a:b@c" },
});
const buggy = request({ fillUsername: true });
const slow = request({ fillOauthScope: true });
const json = (o: unknown) => Buffer.from(JSON.stringify(o));

const cases: Case[] = [
  { name: "gRPC echo", h2: true, headers: (t) => grpc(t), body: envelope(echo), fast: true },
  {
    name: "gRPC compressed response",
    h2: true,
    headers: (t) => grpc(t, { "grpc-accept-encoding": "gzip" }),
    body: envelope(large),
    fast: true,
  },
  {
    name: "gRPC small response, gzip accepted",
    h2: true,
    headers: (t) => grpc(t, { "grpc-accept-encoding": "br, gzip" }),
    body: envelope(echo),
    fast: true,
  },
  {
    name: "gRPC handler error",
    h2: true,
    headers: (t) => grpc(t),
    body: envelope(failing),
    fast: true,
  },
  {
    name: "gRPC handler bug",
    h2: true,
    headers: (t) => grpc(t),
    body: envelope(buggy),
    fast: true,
  },
  {
    name: "gRPC no token",
    h2: true,
    headers: () => ({ "content-type": "application/grpc", te: "trailers" }),
    body: envelope(echo),
    fast: true,
  },
  {
    name: "gRPC bad token",
    h2: true,
    headers: () => grpc("not-a-jwt"),
    body: envelope(echo),
    fast: true,
  },
  {
    name: "gRPC undecodable message",
    h2: true,
    headers: (t) => grpc(t),
    body: envelope(Buffer.from([0x1a, 0x05, 0x0a])),
    fast: true,
  },
  {
    name: "gRPC deadline",
    h2: true,
    headers: (t) => grpc(t, { "grpc-timeout": "50m" }),
    body: envelope(slow),
    fast: true,
  },
  {
    name: "gRPC bad timeout header",
    h2: true,
    headers: (t) => grpc(t, { "grpc-timeout": "soon" }),
    body: envelope(echo),
    fast: false,
  },
  {
    name: "gRPC two messages",
    h2: true,
    headers: (t) => grpc(t),
    body: Buffer.concat([envelope(echo), envelope(echo)]),
    fast: false,
  },
  {
    name: "gRPC no message",
    h2: true,
    headers: (t) => grpc(t),
    body: Buffer.alloc(0),
    fast: false,
  },
  {
    name: "gRPC truncated envelope",
    h2: true,
    headers: (t) => grpc(t),
    body: envelope(echo).subarray(0, 6),
    fast: false,
  },
  {
    name: "gRPC envelope announcing more than the limit",
    h2: true,
    headers: (t) => grpc(t),
    body: Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]),
    fast: false,
  },
  {
    name: "gRPC compressed flag without encoding",
    h2: true,
    headers: (t) => grpc(t),
    body: envelope(echo, 1),
    fast: false,
  },
  {
    name: "gRPC unknown request encoding",
    h2: true,
    headers: (t) => grpc(t, { "grpc-encoding": "snappy" }),
    body: envelope(echo),
    fast: false,
  },
  {
    name: "Connect proto over HTTP/1.1",
    h2: false,
    headers: (t) => connect("application/proto", t),
    body: Buffer.from(echo),
    fast: true,
  },
  {
    name: "Connect proto over HTTP/2",
    h2: true,
    headers: (t) => connect("application/proto", t),
    body: Buffer.from(echo),
    fast: true,
  },
  {
    name: "Connect JSON",
    h2: false,
    headers: (t) => connect("application/json", t),
    body: json({ payload: { body: "aGk=" } }),
    fast: true,
  },
  {
    name: "Connect JSON compressed response",
    h2: false,
    headers: (t) => connect("application/json", t, { "accept-encoding": "gzip" }),
    body: json({ responseSize: 4096 }),
    fast: true,
  },
  {
    name: "Connect JSON handler error",
    h2: false,
    headers: (t) => connect("application/json", t),
    body: json({ responseStatus: { code: 9, message: "no" } }),
    fast: true,
  },
  {
    name: "Connect JSON unknown field",
    h2: false,
    headers: (t) => connect("application/json", t),
    body: json({ nope: 1 }),
    fast: true,
  },
  {
    name: "Connect JSON not JSON",
    h2: false,
    headers: (t) => connect("application/json", t),
    body: Buffer.from("{"),
    fast: true,
  },
  {
    name: "Connect no token",
    h2: false,
    headers: () => ({ "content-type": "application/proto" }),
    body: Buffer.from(echo),
    fast: true,
  },
  {
    name: "Connect deadline",
    h2: false,
    headers: (t) => connect("application/proto", t, { "connect-timeout-ms": "50" }),
    body: Buffer.from(slow),
    fast: true,
  },
  {
    name: "Connect wrong protocol version",
    h2: false,
    headers: (t) => connect("application/proto", t, { "connect-protocol-version": "2" }),
    body: Buffer.from(echo),
    fast: false,
  },
  {
    name: "Connect gzip request",
    h2: false,
    headers: (t) => connect("application/proto", t, { "content-encoding": "gzip" }),
    body: Buffer.from(echo),
    fast: false,
  },
];

describe("fast path: same answers as connect-node", () => {
  let pair: ServerPair;
  let token = "";
  before(async () => {
    pair = await startServerPair(routes);
    token = pair.token;
  });
  after(() => pair.close());
  const served = () => pair.fast.stats().fastPathCalls;
  const fromStreams = () => pair.fast.stats().fastPathStreamCalls;

  for (const c of cases) {
    test(c.name, async () => {
      const call = c.h2 ? h2Exchange : h1Exchange;
      const before = served();
      const streamsBefore = fromStreams();
      const got = await call(pair.fast.port, path, c.headers(token), c.body);
      assert.equal(served() - before, c.fast ? 1 : 0, "served by the fast path");
      // HTTP/2 calls are served from the stream; irregular ones are handed back to node's compat layer.
      assert.equal(fromStreams() - streamsBefore, c.fast && c.h2 ? 1 : 0, "served from the stream");
      const want = await call(pair.library.port, path, c.headers(token), c.body);
      assert.deepEqual(got, want);
    });
    if (c.h2 && !c.fast) {
      // Handed back to the compat layer before the client ended the stream.
      test(`${c.name}, END_STREAM in a frame of its own`, async () => {
        const opts = { endApart: true };
        const got = await h2Exchange(pair.fast.port, path, c.headers(token), c.body, opts);
        const want = await h2Exchange(pair.library.port, path, c.headers(token), c.body, opts);
        assert.deepEqual(got, want);
      });
    }
  }
});

describe("SWITCHBOARD_FAST_PATH", () => {
  for (const fastPath of [true, false]) {
    test(`fastPath: ${fastPath} — Send works and ${fastPath ? "is" : "is not"} served by the fast path`, async (t) => {
      const ts = await startTestServer({ config: { fastPath } });
      t.after(() => ts.close());
      const token = await ts.token({ subject: "ada", rooms: ["*"] });
      const client = createClient(ChatService, createGrpcTransport({ baseUrl: ts.url }));
      const res = await client.send(
        { room: "lobby", text: "hi" },
        { headers: { authorization: `Bearer ${token}` } },
      );
      assert.equal(res.message?.text, "hi");
      assert.equal(ts.server.stats().fastPathCalls, fastPath ? 1 : 0);
    });
  }
  test("the environment variable turns it off", () => {
    assert.equal(serverConfigFromEnv({ SWITCHBOARD_FAST_PATH: "false" }).fastPath, false);
    assert.equal(serverConfigFromEnv({}).fastPath, undefined);
  });
});
