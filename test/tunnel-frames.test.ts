/**
 * The WebSocket tunnel at the frame level (docs/tunnel.md), with a raw `ws`
 * client: well-formed calls, and every kind of malformed input getting a
 * clean `end` frame with a precise code and a proper close code — while the
 * server keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { TunnelFlag } from "../src/client/tunnel-frame.js";
import {
  ChatRequestSchema,
  ChatResponseSchema,
  SendRequestSchema,
  SendResponseSchema,
  SubscribeRequestSchema,
  UploadRequestSchema,
  UploadResponseSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { waitFor } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";
import { openRawTunnel, type RawTunnel } from "./tunnel-harness.js";

const sendBytes = (room: string, text: string) =>
  toBinary(SendRequestSchema, create(SendRequestSchema, { room, text }));

describe("tunnel frames", () => {
  let ts: TestServer;
  let auth: Record<string, string>;
  const sockets: RawTunnel[] = [];
  const raw = async (opts = {}) => {
    const r = await openRawTunnel(ts.url, opts);
    sockets.push(r);
    return r;
  };
  /** Proves the server still serves: a Send over a fresh socket succeeds. */
  const stillServing = async () => {
    const r = await raw();
    r.open(1, "Send", auth);
    r.send(1, TunnelFlag.message, sendBytes("alive", "ping"));
    r.send(1, TunnelFlag.end);
    const end = await r.end(1);
    assert.equal(end.error, undefined);
    assert.equal(fromBinary(SendResponseSchema, r.messages(1)[0]!).message?.text, "ping");
    r.close();
  };

  before(async () => {
    ts = await startTestServer({ config: { corsOrigins: ["https://app.example.com"] } });
    auth = { authorization: `Bearer ${await ts.token({ subject: "ada", rooms: ["*"] })}` };
  });
  after(async () => {
    for (const s of sockets) s.ws.terminate();
    await ts.close();
  });

  it("a unary call is open, message, end; the server answers headers, message, end", async () => {
    const r = await raw();
    r.open(1, "Send", auth);
    r.send(1, TunnelFlag.message, sendBytes("frames", "hi"));
    r.send(1, TunnelFlag.end);
    const end = await r.end(1);
    assert.equal(end.error, undefined);
    const kinds = r.frames.filter((f) => f.streamId === 1).map((f) => f.flags);
    assert.deepEqual(kinds, [TunnelFlag.open, TunnelFlag.message, TunnelFlag.end]);
    assert.equal(fromBinary(SendResponseSchema, r.messages(1)[0]!).message?.sender?.id, "ada");
  });

  it("Chat over raw frames: join, send, ack and the message, then half-close ends the call", async () => {
    const r = await raw();
    r.open(1, "Chat", auth);
    const frame = (init: Parameters<typeof create<typeof ChatRequestSchema>>[1]) =>
      r.send(1, TunnelFlag.message, toBinary(ChatRequestSchema, create(ChatRequestSchema, init)));
    frame({ requestId: "j", action: { case: "join", value: { position: { room: "raw-chat" } } } });
    frame({
      requestId: "s",
      action: { case: "send", value: { room: "raw-chat", text: "yo", clientMessageId: "c1" } },
    });
    const events = () => r.messages(1).map((m) => fromBinary(ChatResponseSchema, m).event);
    await waitFor("ack and message", () => {
      const cases = events().map((e) => e.case);
      return cases.includes("ack") && cases.includes("message");
    });
    r.send(1, TunnelFlag.end);
    const end = await r.end(1);
    assert.equal(end.error, undefined);
    assert.deepEqual(events().filter((e) => e.case === "joined").length, 1);
  });

  it("no token and a bad token end the call with unauthenticated, before any message is read", async () => {
    const r = await raw();
    r.open(1, "Upload");
    r.open(3, "Chat", { authorization: "Bearer nope" });
    assert.equal((await r.end(1)).error?.code, Code.Unauthenticated);
    assert.equal((await r.end(3)).error?.code, Code.Unauthenticated);
    // A call failing before any message gets its end frame only.
    assert.deepEqual(
      r.frames.map((f) => f.flags),
      [TunnelFlag.end, TunnelFlag.end],
    );
    assert.equal(r.ws.readyState, r.ws.OPEN);
  });

  it("connect-timeout-ms in the open frame ends a call with deadline_exceeded", async () => {
    const r = await raw();
    r.open(1, "Upload", { ...auth, "connect-timeout-ms": "200" });
    r.send(
      1,
      TunnelFlag.message,
      toBinary(
        UploadRequestSchema,
        create(UploadRequestSchema, { payload: { case: "metadata", value: { name: "slow" } } }),
      ),
    );
    assert.equal((await r.end(1)).error?.code, Code.DeadlineExceeded);
    await waitFor("upload discarded", () => ts.server.backend.blobs.openUploads === 0);
    r.open(2, "Send", { ...auth, "connect-timeout-ms": "soon" });
    assert.equal((await r.end(2)).error?.code, Code.InvalidArgument);
  });

  it("a cancel frame aborts the call and releases its resources; nothing more is sent for it", async () => {
    const r = await raw();
    const { fanout } = ts.server.backend;
    const baseline = fanout.activeSubscriptions;
    r.open(1, "Chat", auth);
    r.send(
      1,
      TunnelFlag.message,
      toBinary(
        ChatRequestSchema,
        create(ChatRequestSchema, {
          requestId: "j",
          action: { case: "join", value: { position: { room: "cancel-raw" } } },
        }),
      ),
    );
    await waitFor("joined", () => r.messages(1).length > 0);
    assert.equal(fanout.activeSubscriptions, baseline + 1);
    r.send(1, TunnelFlag.cancel);
    await waitFor("released", () => fanout.activeSubscriptions === baseline);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.frames.filter((f) => f.streamId === 1 && f.flags === TunnelFlag.end).length, 0);
    // Frames for the cancelled call are dropped, the socket stays usable.
    r.send(1, TunnelFlag.message, new Uint8Array([1, 2, 3]));
    r.open(2, "Send", auth);
    r.send(2, TunnelFlag.message, sendBytes("after-cancel", "x"));
    r.send(2, TunnelFlag.end);
    assert.equal((await r.end(2)).error, undefined);
  });

  it("bad open frames end only their call: bad JSON, no method, bad headers, unknown method", async () => {
    const r = await raw();
    r.send(1, TunnelFlag.open, new TextEncoder().encode("{not json"));
    r.sendJson(2, TunnelFlag.open, { headers: auth });
    r.sendJson(3, TunnelFlag.open, {
      method: "/switchboard.chat.v1.ChatService/Send",
      headers: { "bad header": "x" },
    });
    r.sendJson(4, TunnelFlag.open, [1, 2]);
    r.open(5, "Nope", auth);
    r.send(6, TunnelFlag.open, new Uint8Array([0xff, 0xfe]));
    const codes = [];
    for (const id of [1, 2, 3, 4, 5, 6]) codes.push(Code[(await r.end(id)).error!.code]);
    assert.deepEqual(codes, [
      "InvalidArgument",
      "InvalidArgument",
      "InvalidArgument",
      "InvalidArgument",
      "Unimplemented",
      "InvalidArgument",
    ]);
    assert.match((await r.end(2)).error!.message, /open\.method/);
    assert.equal(r.ws.readyState, r.ws.OPEN);
  });

  it("an undecodable message ends its call with invalid_argument", async () => {
    const r = await raw();
    r.open(1, "Send", auth);
    r.send(1, TunnelFlag.message, new Uint8Array([0x0a, 0x05, 0x61]));
    r.send(1, TunnelFlag.end);
    assert.equal((await r.end(1)).error?.code, Code.InvalidArgument);
    r.open(2, "Upload", auth);
    r.send(2, TunnelFlag.message, new Uint8Array([0xff, 0xff, 0xff]));
    r.send(2, TunnelFlag.end);
    assert.equal((await r.end(2)).error?.code, Code.InvalidArgument);
  });

  it("a unary call with two messages or none ends with unimplemented, as Connect does", async () => {
    const r = await raw();
    r.open(1, "Send", auth);
    r.send(1, TunnelFlag.message, sendBytes("two", "a"));
    r.send(1, TunnelFlag.message, sendBytes("two", "b"));
    r.send(1, TunnelFlag.end);
    r.open(2, "Send", auth);
    r.send(2, TunnelFlag.end);
    assert.equal((await r.end(1)).error?.code, Code.Unimplemented);
    assert.equal((await r.end(2)).error?.code, Code.Unimplemented);
  });

  it("an oversize message ends its call with resource_exhausted; the socket stays open", async () => {
    const r = await raw();
    r.open(1, "Upload", auth);
    r.send(1, TunnelFlag.message, new Uint8Array(4 * 1024 * 1024 + 1));
    const end = await r.end(1);
    assert.equal(end.error?.code, Code.ResourceExhausted);
    assert.equal(r.ws.readyState, r.ws.OPEN);
    assert.equal(ts.server.backend.blobs.openUploads, 0);
  });

  it("a WebSocket message beyond the frame limit closes the socket with 1009", async () => {
    const r = await raw();
    r.sendBytes(new Uint8Array(5 * 1024 * 1024));
    assert.equal((await r.closed).code, 1009);
    await stillServing();
  });

  it("a message after the client's end ends the call with invalid_argument; later frames are dropped", async () => {
    const r = await raw();
    // Subscribe keeps streaming after the client's end, so the extra message meets a live call.
    r.open(1, "Subscribe", auth);
    r.send(
      1,
      TunnelFlag.message,
      toBinary(
        SubscribeRequestSchema,
        create(SubscribeRequestSchema, { rooms: [{ room: "after-end" }] }),
      ),
    );
    r.send(1, TunnelFlag.end);
    await waitFor("subscribed", () => r.messages(1).length > 0);
    r.send(1, TunnelFlag.message, new Uint8Array(0));
    const end = await r.end(1);
    assert.equal(end.error?.code, Code.InvalidArgument);
    assert.match(end.error!.message, /after the end of input/);
    // Frames after the server's end are dropped silently.
    r.send(1, TunnelFlag.message, new Uint8Array(0));
    r.send(1, TunnelFlag.end);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.frames.filter((f) => f.streamId === 1 && f.flags === TunnelFlag.end).length, 1);
    assert.equal(r.ws.readyState, r.ws.OPEN);
    await waitFor(
      "subscription released",
      () => ts.server.backend.fanout.activeSubscriptions === 0,
    );
  });

  it("a compressed message ends its call with internal (no compression is negotiated)", async () => {
    const r = await raw();
    r.open(1, "Send", auth);
    r.send(1, TunnelFlag.compressedMessage, sendBytes("gz", "x"));
    r.send(1, TunnelFlag.end);
    assert.equal((await r.end(1)).error?.code, Code.Internal);
  });

  it("more than 100 calls at once on one socket: the extra one gets resource_exhausted", async () => {
    const r = await raw();
    for (let id = 1; id <= 101; id++) r.open(id, "Chat", auth);
    const end = await r.end(101);
    assert.equal(end.error?.code, Code.ResourceExhausted);
    for (let id = 1; id <= 100; id++) r.send(id, TunnelFlag.end);
    await r.end(100);
  });

  for (const [name, bytes, closeCode] of [
    ["binary garbage shorter than a header", new Uint8Array([1, 2, 3]), 1002],
    ["a lying length prefix", new Uint8Array([0, 0, 0, 1, 0, 0, 0, 0, 50, 1, 2]), 1002],
    ["unknown flags", new Uint8Array([0, 0, 0, 1, 0x7f, 0, 0, 0, 0]), 1002],
    ["a text message", "hello", 1003],
  ] as const) {
    it(`${name} is a connection error: every call ends with invalid_argument, close ${closeCode}`, async () => {
      const r = await raw();
      r.open(1, "Chat", auth);
      await new Promise((res) => setTimeout(res, 50));
      r.sendBytes(bytes);
      const closed = await r.closed;
      assert.equal(closed.code, closeCode);
      assert.equal((await r.end(1)).error?.code, Code.InvalidArgument);
      assert.equal((await r.end(0)).error?.code, Code.InvalidArgument);
      await stillServing();
    });
  }

  it("stream ids must increase, and frames of never-opened streams are a protocol error", async () => {
    const r = await raw();
    r.open(5, "Chat", auth);
    r.open(5, "Chat", auth);
    assert.equal((await r.closed).code, 1002);
    assert.match((await r.end(0)).error!.message, /stream id 5/);
    const r2 = await raw();
    r2.send(7, TunnelFlag.message, new Uint8Array(0));
    assert.equal((await r2.closed).code, 1002);
    await stillServing();
  });

  it("ping on stream 0 is answered with pong and the same payload", async () => {
    const r = await raw();
    r.send(0, TunnelFlag.ping, new Uint8Array([9, 8, 7]));
    await waitFor("pong", () => r.frames.some((f) => f.flags === TunnelFlag.pong));
    const pong = r.frames.find((f) => f.flags === TunnelFlag.pong)!;
    assert.equal(pong.streamId, 0);
    assert.deepEqual([...pong.payload], [9, 8, 7]);
  });

  it("upgrades from origins outside the CORS allowlist are refused with 403", async () => {
    await assert.rejects(raw({ headers: { origin: "https://evil.example.com" } }), /403/);
    const ok = await raw({ headers: { origin: "https://app.example.com" } });
    ok.close();
    await assert.rejects(
      openRawTunnel(ts.url.replace(/$/, "/other"), {}).then((r) => r.close()),
      /404|Unexpected/,
    );
  });

  it("an Upload over raw frames returns the file with its sha256", async () => {
    const r = await raw();
    r.open(1, "Upload", auth);
    const msg = (init: Parameters<typeof create<typeof UploadRequestSchema>>[1]) =>
      r.send(
        1,
        TunnelFlag.message,
        toBinary(UploadRequestSchema, create(UploadRequestSchema, init)),
      );
    msg({ payload: { case: "metadata", value: { name: "abc.txt", size: 3n } } });
    msg({ payload: { case: "chunk", value: new TextEncoder().encode("abc") } });
    r.send(1, TunnelFlag.end);
    assert.equal((await r.end(1)).error, undefined);
    const file = fromBinary(UploadResponseSchema, r.messages(1)[0]!).file;
    assert.equal(file?.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
