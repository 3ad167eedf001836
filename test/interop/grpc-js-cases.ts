/**
 * The interop test cases as an independent @grpc/grpc-js client would run
 * them: TestService loaded from the vendored .protos with
 * @grpc/proto-loader (no protobuf-es, no connect-es), asserting what
 * grpc/grpc doc/interop-test-descriptions.md asks of the client.
 *
 * grpc-js cannot see the compressed flag of received messages, so the
 * server_compressed_* cases here assert sizes only; test/interop-wire.test.ts
 * asserts the flags.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import {
  clientStreamingSizes,
  type InteropCaseName,
  serverStreamingSizes,
  specialStatusMessage,
} from "./cases.js";
import {
  type Client,
  clientStream,
  type Msg,
  type Outcome,
  stream,
  unary,
} from "./grpc-js-calls.js";
import { loadGrpcService } from "./load-grpc-service.js";

const protoRoot = fileURLToPath(new URL("./proto", import.meta.url));
const TestServiceClient = loadGrpcService(
  protoRoot,
  "grpc/testing/test.proto",
  "grpc.testing.TestService",
);
const UnimplementedServiceClient = loadGrpcService(
  protoRoot,
  "grpc/testing/test.proto",
  "grpc.testing.UnimplementedService",
);

/** grpc-js's write flag that sends one message uncompressed on a compressing channel. */
const noCompress = 2;
const gzipChannel = { "grpc.default_compression_algorithm": 2 };

/** Where the cases run and with which token. */
export interface GrpcJsCaseContext {
  /** host:port */
  target: string;
  token: string;
}

const zeros = (n: number) => Buffer.alloc(n);
const bodyOf = (m: Msg) => (m.payload as { body: Buffer }).body;
const assertZeros = (b: Buffer, size: number) => {
  assert.equal(b.length, size);
  assert.ok(
    b.every((x) => x === 0),
    "payload body is all zeros",
  );
};

/**
 * Runs one case against `ctx.target`; resolves when every assertion held.
 *
 * @example
 * await runGrpcJsCase("large_unary", { target: "127.0.0.1:8080", token });
 */
export async function runGrpcJsCase(name: InteropCaseName, ctx: GrpcJsCaseContext): Promise<void> {
  const open: grpc.Client[] = [];
  const client = (compress = false, ctor = TestServiceClient): Client => {
    const c = new ctor(
      ctx.target,
      grpc.credentials.createInsecure(),
      compress ? gzipChannel : {},
    ) as unknown as Client;
    open.push(c);
    return c;
  };
  const md = (extra: Record<string, string | Buffer> = {}) => {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${ctx.token}`);
    for (const [k, v] of Object.entries(extra)) m.set(k, v);
    return m;
  };
  try {
    await cases[name]({ client, md });
  } finally {
    for (const c of open) c.close();
  }
}

interface Kit {
  client(compress?: boolean, ctor?: grpc.ServiceClientConstructor): Client;
  md(extra?: Record<string, string | Buffer>): grpc.Metadata;
}

const ok = (o: Outcome) => assert.equal(o.status.code, grpc.status.OK, o.status.details);
const failedWith = (o: Outcome, code: grpc.status, details?: string) => {
  assert.equal(o.status.code, code, `status ${o.status.code} ${o.status.details}`);
  if (details !== undefined) assert.equal(o.status.details, details);
};
const largeUnary = (extra: Msg = {}) => ({
  response_size: 314159,
  payload: { body: zeros(271828) },
  ...extra,
});
const sizesOf = (o: Outcome) => o.responses.map((r) => bodyOf(r).length);

const cases: Record<InteropCaseName, (kit: Kit) => Promise<void>> = {
  async empty_unary({ client, md }) {
    const o = await unary(client(), "EmptyCall", {}, md());
    ok(o);
    assert.ok(o.responses[0], "response is non-null");
  },
  async large_unary({ client, md }) {
    const o = await unary(client(), "UnaryCall", largeUnary(), md());
    ok(o);
    assertZeros(bodyOf(o.responses[0]!), 314159);
  },
  async client_compressed_unary({ client, md }) {
    const probe = await unary(
      client(),
      "UnaryCall",
      largeUnary({ expect_compressed: { value: true } }),
      md(),
    );
    failedWith(probe, grpc.status.INVALID_ARGUMENT);
    const compressed = await unary(
      client(true),
      "UnaryCall",
      largeUnary({ expect_compressed: { value: true } }),
      md(),
    );
    ok(compressed);
    assertZeros(bodyOf(compressed.responses[0]!), 314159);
    const plain = await unary(
      client(),
      "UnaryCall",
      largeUnary({ expect_compressed: { value: false } }),
      md(),
    );
    ok(plain);
    assertZeros(bodyOf(plain.responses[0]!), 314159);
  },
  async server_compressed_unary({ client, md }) {
    for (const value of [true, false]) {
      const o = await unary(
        client(),
        "UnaryCall",
        largeUnary({ response_compressed: { value } }),
        md(),
      );
      ok(o);
      assertZeros(bodyOf(o.responses[0]!), 314159);
    }
  },
  async client_streaming({ client, md }) {
    const reqs = clientStreamingSizes.map((n) => ({ msg: { payload: { body: zeros(n) } } }));
    const o = await clientStream(client(), "StreamingInputCall", reqs, md());
    ok(o);
    assert.equal(o.responses[0]!.aggregated_payload_size, 74922);
  },
  async client_compressed_streaming({ client, md }) {
    const first = { expect_compressed: { value: true }, payload: { body: zeros(27182) } };
    const probe = await clientStream(client(), "StreamingInputCall", [{ msg: first }], md());
    failedWith(probe, grpc.status.INVALID_ARGUMENT);
    const o = await clientStream(
      client(true),
      "StreamingInputCall",
      [
        { msg: first },
        {
          msg: { expect_compressed: { value: false }, payload: { body: zeros(45904) } },
          flags: noCompress,
        },
      ],
      md(),
    );
    ok(o);
    assert.equal(o.responses[0]!.aggregated_payload_size, 73086);
  },
  async server_streaming({ client, md }) {
    const call = client().StreamingOutputCall!(
      { response_parameters: serverStreamingSizes.map((size) => ({ size })) },
      md(),
    ) as grpc.ClientReadableStream<Msg>;
    const o = await stream(call).end();
    ok(o);
    assert.deepEqual(sizesOf(o), [...serverStreamingSizes]);
    for (const r of o.responses) assert.ok(bodyOf(r).every((x) => x === 0));
  },
  async server_compressed_streaming({ client, md }) {
    const call = client().StreamingOutputCall!(
      {
        response_parameters: [
          { compressed: { value: true }, size: 31415 },
          { compressed: { value: false }, size: 92653 },
        ],
      },
      md(),
    ) as grpc.ClientReadableStream<Msg>;
    const o = await stream(call).end();
    ok(o);
    assert.deepEqual(sizesOf(o), [31415, 92653]);
  },
  async ping_pong({ client, md }) {
    const call = client().FullDuplexCall!(md()) as grpc.ClientDuplexStream<Msg, Msg>;
    const s = stream(call);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) {
      call.write({
        response_parameters: [{ size: serverStreamingSizes[i] }],
        payload: { body: zeros(clientStreamingSizes[i]!) },
      });
      got.push(bodyOf(await s.next()).length);
    }
    call.end();
    const o = await s.end();
    ok(o);
    assert.equal(o.responses.length, 0, "exactly four responses");
    assert.deepEqual(got, [...serverStreamingSizes]);
  },
  async empty_stream({ client, md }) {
    const call = client().FullDuplexCall!(md()) as grpc.ClientDuplexStream<Msg, Msg>;
    const s = stream(call);
    call.end();
    const o = await s.end();
    ok(o);
    assert.equal(o.responses.length, 0);
  },
  async custom_metadata({ client, md }) {
    const echo = () =>
      md({
        "x-grpc-test-echo-initial": "test_initial_metadata_value",
        "x-grpc-test-echo-trailing-bin": Buffer.from([0xab, 0xab, 0xab]),
      });
    const check = (o: Outcome) => {
      ok(o);
      assert.deepEqual(o.initial?.get("x-grpc-test-echo-initial"), ["test_initial_metadata_value"]);
      assert.deepEqual(o.status.metadata.get("x-grpc-test-echo-trailing-bin"), [
        Buffer.from([0xab, 0xab, 0xab]),
      ]);
    };
    check(await unary(client(), "UnaryCall", largeUnary(), echo()));
    const call = client().FullDuplexCall!(echo()) as grpc.ClientDuplexStream<Msg, Msg>;
    const s = stream(call);
    call.write({ response_parameters: [{ size: 314159 }], payload: { body: zeros(271828) } });
    call.end();
    const o = await s.end();
    check(o);
    assert.deepEqual(sizesOf(o), [314159]);
  },
  async status_code_and_message({ client, md }) {
    const response_status = { code: 2, message: "test status message" };
    failedWith(
      await unary(client(), "UnaryCall", { response_status }, md()),
      grpc.status.UNKNOWN,
      "test status message",
    );
    const call = client().FullDuplexCall!(md()) as grpc.ClientDuplexStream<Msg, Msg>;
    const s = stream(call);
    call.write({ response_status });
    call.end();
    failedWith(await s.end(), grpc.status.UNKNOWN, "test status message");
  },
  async special_status_message({ client, md }) {
    const o = await unary(
      client(),
      "UnaryCall",
      { response_status: { code: 2, message: specialStatusMessage } },
      md(),
    );
    failedWith(o, grpc.status.UNKNOWN, specialStatusMessage);
  },
  async unimplemented_method({ client, md }) {
    failedWith(await unary(client(), "UnimplementedCall", {}, md()), grpc.status.UNIMPLEMENTED);
  },
  async unimplemented_service({ client, md }) {
    const c = client(false, UnimplementedServiceClient);
    failedWith(await unary(c, "UnimplementedCall", {}, md()), grpc.status.UNIMPLEMENTED);
  },
  async cancel_after_begin({ client, md }) {
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client().StreamingInputCall!(md(), () => {}) as grpc.ClientWritableStream<Msg>;
      call.on("status", resolve);
      call.cancel();
    });
    assert.equal(status.code, grpc.status.CANCELLED);
  },
  async cancel_after_first_response({ client, md }) {
    const call = client().FullDuplexCall!(md()) as grpc.ClientDuplexStream<Msg, Msg>;
    const s = stream(call);
    call.write({ response_parameters: [{ size: 31415 }], payload: { body: zeros(27182) } });
    assert.equal(bodyOf(await s.next()).length, 31415);
    call.cancel();
    failedWith(await s.end(), grpc.status.CANCELLED);
  },
  async timeout_on_sleeping_server({ client, md }) {
    const call = client().FullDuplexCall!(md(), {
      deadline: Date.now() + 1,
    }) as grpc.ClientDuplexStream<Msg, Msg>;
    const s = stream(call);
    call.write({ payload: { body: zeros(27182) } });
    failedWith(await s.end(), grpc.status.DEADLINE_EXCEEDED);
  },
};
