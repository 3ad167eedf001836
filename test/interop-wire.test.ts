/**
 * The compression cases of gRPC interop, checked where grpc-js and Python
 * cannot look: the compressed flag of each length-prefixed message on the
 * wire. A raw node:http2 client frames requests by hand (choosing each
 * message's flag) and reads the flags of the responses of
 * grpc.testing.TestService on Switchboard's server stack.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  SimpleRequestSchema,
  SimpleResponseSchema,
  StreamingInputCallRequestSchema,
  StreamingInputCallResponseSchema,
  StreamingOutputCallRequestSchema,
  StreamingOutputCallResponseSchema,
} from "./interop/gen/grpc/testing/messages_pb.js";
import { type InteropServer, startInteropServer } from "./interop/start-interop-server.js";

/** One length-prefixed message as sent or received. */
interface Frame {
  compressed: boolean;
  data: Uint8Array;
}

interface RawResult {
  headers: http2.IncomingHttpHeaders;
  frames: Frame[];
  status: number;
  message: string;
}

function envelope(frames: Frame[]): Buffer {
  return Buffer.concat(
    frames.map((f) => {
      const data = f.compressed ? gzipSync(f.data) : Buffer.from(f.data);
      const head = Buffer.alloc(5);
      head.writeUInt8(f.compressed ? 1 : 0, 0);
      head.writeUInt32BE(data.length, 1);
      return Buffer.concat([head, data]);
    }),
  );
}

function unenvelope(body: Buffer): Frame[] {
  const out: Frame[] = [];
  for (let at = 0; at < body.length; ) {
    const flags = body.readUInt8(at);
    const length = body.readUInt32BE(at + 1);
    const raw = body.subarray(at + 5, at + 5 + length);
    const compressed = (flags & 1) === 1;
    out.push({ compressed, data: compressed ? gunzipSync(raw) : raw });
    at += 5 + length;
  }
  return out;
}

describe("gRPC interop compression on the wire (raw HTTP/2 client)", { timeout: 60_000 }, () => {
  let server: InteropServer;
  let session: http2.ClientHttp2Session;
  before(async () => {
    server = await startInteropServer();
    session = http2.connect(`http://${server.target}`);
    session.on("error", () => {});
  });
  after(async () => {
    session?.close();
    await server?.close();
  });

  /** One gRPC call: request frames with their flags in, response frames and status out. */
  function call(method: string, frames: Frame[], requestEncoding = "gzip"): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": `/grpc.testing.TestService/${method}`,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-encoding": requestEncoding,
        "grpc-accept-encoding": "gzip",
        authorization: `Bearer ${server.token}`,
      });
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        headers = h;
      });
      stream.on("trailers", (t) => {
        trailers = t;
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", reject);
      stream.on("end", () => {
        const s = trailers["grpc-status"] ?? headers["grpc-status"];
        const m = trailers["grpc-message"] ?? headers["grpc-message"];
        resolve({
          headers,
          frames: unenvelope(Buffer.concat(chunks)),
          status: Number(s),
          message: decodeURIComponent(String(m ?? "")),
        });
      });
      stream.setTimeout(20_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.end(envelope(frames));
    });
  }
  const frame = <D extends DescMessage>(
    schema: D,
    init: MessageInitShape<D>,
    compressed: boolean,
  ): Frame => ({ compressed, data: toBinary(schema, create(schema, init)) });

  it("server_compressed_unary: sets the compressed flag exactly when response_compressed is true", async () => {
    for (const value of [true, false]) {
      const res = await call("UnaryCall", [
        frame(
          SimpleRequestSchema,
          {
            responseCompressed: { value },
            responseSize: 314159,
            payload: { body: new Uint8Array(271828) },
          },
          false,
        ),
      ]);
      assert.equal(res.status, 0, res.message);
      assert.equal(res.headers["grpc-encoding"], "gzip");
      assert.equal(res.frames.length, 1);
      assert.equal(res.frames[0]!.compressed, value, `response_compressed=${value}`);
      const msg = fromBinary(SimpleResponseSchema, res.frames[0]!.data);
      assert.equal(msg.payload?.body.byteLength, 314159);
    }
  });

  it("server_compressed_streaming: compresses the first response and not the second", async () => {
    const res = await call("StreamingOutputCall", [
      frame(
        StreamingOutputCallRequestSchema,
        {
          responseParameters: [
            { compressed: { value: true }, size: 31415 },
            { compressed: { value: false }, size: 92653 },
          ],
        },
        false,
      ),
    ]);
    assert.equal(res.status, 0, res.message);
    assert.deepEqual(
      res.frames.map((f) => f.compressed),
      [true, false],
    );
    assert.deepEqual(
      res.frames.map(
        (f) => fromBinary(StreamingOutputCallResponseSchema, f.data).payload?.body.byteLength,
      ),
      [31415, 92653],
    );
  });

  it("client_compressed_unary: expect_compressed checks the message's flag, not the grpc-encoding header", async () => {
    const req = (compressed: boolean) =>
      frame(
        SimpleRequestSchema,
        {
          expectCompressed: { value: true },
          responseSize: 314159,
          payload: { body: new Uint8Array(271828) },
        },
        compressed,
      );
    const probe = await call("UnaryCall", [req(false)]);
    assert.equal(probe.status, 3, "uncompressed probe fails with INVALID_ARGUMENT");
    const plain = await call("UnaryCall", [req(false)], "identity");
    assert.equal(plain.status, 3, "also without grpc-encoding");
    const ok = await call("UnaryCall", [req(true)]);
    assert.equal(ok.status, 0, ok.message);
    const msg = fromBinary(SimpleResponseSchema, ok.frames[0]!.data);
    assert.equal(msg.payload?.body.byteLength, 314159);
  });

  it("client_compressed_streaming: accepts a compressed then an uncompressed message in one stream", async () => {
    const probe = await call("StreamingInputCall", [
      frame(
        StreamingInputCallRequestSchema,
        { expectCompressed: { value: true }, payload: { body: new Uint8Array(27182) } },
        false,
      ),
    ]);
    assert.equal(probe.status, 3, "uncompressed probe fails with INVALID_ARGUMENT");
    const res = await call("StreamingInputCall", [
      frame(
        StreamingInputCallRequestSchema,
        { expectCompressed: { value: true }, payload: { body: new Uint8Array(27182) } },
        true,
      ),
      frame(
        StreamingInputCallRequestSchema,
        { expectCompressed: { value: false }, payload: { body: new Uint8Array(45904) } },
        false,
      ),
    ]);
    assert.equal(res.status, 0, res.message);
    const msg = fromBinary(StreamingInputCallResponseSchema, res.frames[0]!.data);
    assert.equal(msg.aggregatedPayloadSize, 73086);
  });
});
