/**
 * Server streaming on the fast path answers byte for byte as connect-node
 * does (gRPC over HTTP/2, Connect streaming over HTTP/1.1 and HTTP/2,
 * binary and JSON): messages, handler-set headers and trailers, errors
 * before and after the first message, deadlines, compression, the gate.
 * And a payload shared by many responses is serialized once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { createMethodSerializationLookup } from "@connectrpc/connect/protocol";
import {
  ChatService,
  MessageSchema,
  SubscribeResponseSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { createEnvelopeCache } from "../src/server/fast/envelope-cache.js";
import {
  connectHeaders,
  envelope,
  grpcHeaders,
  h1Exchange,
  h2Exchange,
  type ServerPair,
  startServerPair,
} from "./helpers/wire-exchange.js";
import { StreamingOutputCallRequestSchema } from "./interop/gen/grpc/testing/messages_pb.js";
import { TestService } from "./interop/gen/grpc/testing/test_pb.js";

const path = "/grpc.testing.TestService/StreamingOutputCall";

function routes(router: ConnectRouter): void {
  router.service(TestService, {
    async *streamingOutputCall(req, ctx) {
      ctx.responseHeader.set("x-echo", "header");
      ctx.responseTrailer.set("x-echo-trailer", "trailer");
      for (const p of req.responseParameters) {
        if (p.intervalUs > 0) {
          await new Promise((resolve) => setTimeout(resolve, p.intervalUs / 1000));
          ctx.signal.throwIfAborted();
        }
        yield { payload: { body: new Uint8Array(p.size).fill(5) } };
      }
      const status = req.responseStatus;
      if (status && status.code !== 0) {
        throw new ConnectError(status.message, status.code as Code, { "x-error-meta": "m" });
      }
    },
  });
}

function request(init: Parameters<typeof create<typeof StreamingOutputCallRequestSchema>>[1]) {
  return toBinary(StreamingOutputCallRequestSchema, create(StreamingOutputCallRequestSchema, init));
}

const three = request({ responseParameters: [{ size: 3 }, { size: 0 }, { size: 10 }] });
const big = request({ responseParameters: [{ size: 10 }, { size: 4096 }] });
const failsLate = request({
  responseParameters: [{ size: 1 }, { size: 2 }],
  responseStatus: { code: Code.Aborted, message: "stopped: a:b" },
});
const failsEarly = request({ responseStatus: { code: Code.NotFound, message: "none" } });
const slow = request({ responseParameters: [{ size: 1 }, { size: 1, intervalUs: 300_000 }] });

interface Case {
  name: string;
  h2: boolean;
  headers: (token: string) => Record<string, string>;
  body: Buffer;
}

const grpc = grpcHeaders;
const connect = connectHeaders;
const jsonEnvelope = (o: unknown) => envelope(Buffer.from(JSON.stringify(o)));

const cases: Case[] = [
  { name: "gRPC three messages", h2: true, headers: (t) => grpc(t), body: envelope(three) },
  {
    name: "gRPC compression accepted",
    h2: true,
    headers: (t) => grpc(t, { "grpc-accept-encoding": "gzip" }),
    body: envelope(big),
  },
  {
    name: "gRPC error after messages",
    h2: true,
    headers: (t) => grpc(t),
    body: envelope(failsLate),
  },
  { name: "gRPC error first", h2: true, headers: (t) => grpc(t), body: envelope(failsEarly) },
  {
    name: "gRPC deadline mid-stream",
    h2: true,
    headers: (t) => grpc(t, { "grpc-timeout": "100m" }),
    body: envelope(slow),
  },
  {
    name: "gRPC no token",
    h2: true,
    headers: () => ({ "content-type": "application/grpc", te: "trailers" }),
    body: envelope(three),
  },
  {
    name: "gRPC undecodable request",
    h2: true,
    headers: (t) => grpc(t),
    body: envelope(Buffer.from([0x12, 0x09, 0x08])),
  },
  {
    name: "Connect proto over HTTP/1.1",
    h2: false,
    headers: (t) => connect("application/connect+proto", t),
    body: envelope(three),
  },
  {
    name: "Connect proto over HTTP/2",
    h2: true,
    headers: (t) => connect("application/connect+proto", t),
    body: envelope(three),
  },
  {
    name: "Connect JSON",
    h2: false,
    headers: (t) => connect("application/connect+json", t),
    body: jsonEnvelope({ responseParameters: [{ size: 2 }, { size: 1 }] }),
  },
  {
    name: "Connect error after messages",
    h2: false,
    headers: (t) => connect("application/connect+proto", t),
    body: envelope(failsLate),
  },
  {
    name: "Connect error first (JSON)",
    h2: false,
    headers: (t) => connect("application/connect+json", t),
    body: jsonEnvelope({ responseStatus: { code: 5, message: "none" } }),
  },
  {
    name: "Connect compression accepted",
    h2: false,
    headers: (t) => connect("application/connect+proto", t, { "connect-accept-encoding": "gzip" }),
    body: envelope(big),
  },
  {
    name: "Connect deadline mid-stream",
    h2: false,
    headers: (t) => connect("application/connect+proto", t, { "connect-timeout-ms": "100" }),
    body: envelope(slow),
  },
];

describe("fast path, server streaming: same answers as connect-node", () => {
  let pair: ServerPair;
  before(async () => {
    pair = await startServerPair(routes);
  });
  after(() => pair.close());

  for (const c of cases) {
    test(c.name, async () => {
      const call = c.h2 ? h2Exchange : h1Exchange;
      const before = pair.fast.stats();
      const got = await call(pair.fast.port, path, c.headers(pair.token), c.body);
      const after = pair.fast.stats();
      assert.equal(after.fastPathCalls - before.fastPathCalls, 1, "served by the fast path");
      const fromStream = after.fastPathStreamCalls - before.fastPathStreamCalls;
      assert.equal(fromStream, c.h2 ? 1 : 0, "HTTP/2: served from the stream");
      const want = await call(pair.library.port, path, c.headers(pair.token), c.body);
      assert.deepEqual(got, want);
    });
  }
});

test("a payload shared by many responses is serialized once; others are not cached", () => {
  const method = ChatService.method.subscribe;
  const serialization = createMethodSerializationLookup(method, undefined, undefined, {
    readMaxBytes: 0xffffffff,
    writeMaxBytes: 0xffffffff,
  });
  for (const binary of [true, false]) {
    const cache = createEnvelopeCache(method.output, serialization.getO(binary));
    const shared = create(MessageSchema, { room: "lobby", offset: 7n, text: "hi" });
    const wrap = () =>
      create(SubscribeResponseSchema, { event: { case: "message", value: shared } });
    const first = cache.envelope(wrap());
    assert.equal(cache.envelope(wrap()), first, "same bytes object for the same payload");
    const expected = serialization.getO(binary).serialize(wrap());
    assert.deepEqual(first.subarray(5), Buffer.from(expected));
    assert.equal(first.readUInt32BE(1), expected.byteLength);
    const other = create(SubscribeResponseSchema, {
      event: { case: "message", value: create(MessageSchema, { room: "lobby", text: "other" }) },
    });
    assert.notEqual(cache.envelope(other), first);
    const heartbeat = create(SubscribeResponseSchema, {
      event: { case: "heartbeat", value: { time: timestampNow() } },
    });
    assert.ok(cache.envelope(heartbeat).byteLength > 5);
  }
});
