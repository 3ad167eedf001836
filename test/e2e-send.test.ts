/**
 * End-to-end tests of Send over real sockets, with every protocol variant.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { SendResponseSchema } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  concatBytes,
  expectConnectError,
  postConnectUnary,
  protocolVariants,
  rawField,
} from "./helpers/clients.js";
import { createGrpcJsClient } from "./helpers/grpc-js-client.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

const maxTextBytes = 64;

describe("e2e Send", () => {
  let ts: TestServer;
  let alice: string;
  let bob: string;
  before(async () => {
    ts = await startTestServer({ backend: "memory", limits: { maxTextBytes, maxAttachments: 2 } });
    alice = await ts.token({ subject: "alice", name: "Alice", rooms: ["lobby*"] });
    bob = await ts.token({ subject: "bob", rooms: ["lobby*"] });
  });
  after(async () => {
    await ts?.close();
  });

  for (const v of protocolVariants) {
    it(`stores a message with the sender taken from the token and increasing offsets (${v.name})`, async () => {
      const c = v.open(ts.url, alice);
      try {
        const room = `lobby-happy-${v.name.replace(/\W/g, "")}`;
        const first = await c.api.send({ room, text: "hello" }, { timeoutMs: 5000 });
        const m = first.message!;
        assert.equal(first.duplicate, false);
        assert.equal(m.room, room);
        assert.equal(m.text, "hello");
        assert.equal(m.sender?.id, "alice");
        assert.equal(m.sender?.displayName, "Alice");
        assert.ok(m.offset > 0n, "offset is positive");
        assert.ok(m.epoch.length > 0, "epoch is set");
        assert.ok(m.id.length > 0, "id is set");
        assert.ok(m.time && m.time.seconds > 0n, "time is set");
        const second = await c.api.send({ room, text: "again" }, { timeoutMs: 5000 });
        assert.ok(second.message!.offset > m.offset, "offsets increase");
        assert.equal(second.message!.epoch, m.epoch);
      } finally {
        c.close();
      }
    });

    it(`ignores forged identity headers: the sender is always the token's subject (${v.name})`, async () => {
      const c = v.open(ts.url, alice, {
        headers: { "x-user": "mallory", "x-user-id": "mallory", "x-sender": "mallory" },
      });
      try {
        const res = await c.api.send(
          { room: "lobby-spoof", text: "who am i" },
          { timeoutMs: 5000 },
        );
        assert.equal(res.message?.sender?.id, "alice");
      } finally {
        c.close();
      }
    });

    it(`a retry with the same client_message_id stores once and answers duplicate=true (${v.name})`, async () => {
      const c = v.open(ts.url, alice);
      const cb = v.open(ts.url, bob);
      try {
        const room = `lobby-idem-${v.name.replace(/\W/g, "")}`;
        const req = { room, text: "once", clientMessageId: "k-1" };
        const a = await c.api.send(req, { timeoutMs: 5000 });
        const b = await c.api.send(req, { timeoutMs: 5000 });
        assert.equal(a.duplicate, false);
        assert.equal(b.duplicate, true);
        assert.equal(b.message?.offset, a.message?.offset);
        assert.equal(b.message?.id, a.message?.id);
        assert.equal(b.message?.clientMessageId, "k-1");
        // Same key from another user is another message.
        const other = await cb.api.send(req, { timeoutMs: 5000 });
        assert.equal(other.duplicate, false);
        assert.notEqual(other.message?.offset, a.message?.offset);
        const h = await c.api.history({ room, limit: 100 }, { timeoutMs: 5000 });
        const mine = h.messages.filter((m) => m.sender?.id === "alice");
        assert.equal(mine.length, 1, "history holds alice's message once");
        assert.equal(h.messages.length, 2);
      } finally {
        c.close();
        cb.close();
      }
    });

    const invalid: [string, Record<string, unknown>, RegExp][] = [
      ["empty room", { room: "", text: "x" }, /room/],
      ["room with spaces", { room: "bad room!", text: "x" }, /room/],
      ["room over 128 characters", { room: `lobby${"x".repeat(130)}`, text: "x" }, /room/],
      ["text over the limit", { room: "lobby", text: "é".repeat(maxTextBytes) }, /text/],
      [
        "client_message_id over 128 characters",
        { room: "lobby", text: "x", clientMessageId: "k".repeat(129) },
        /client_message_id|clientMessageId/,
      ],
      [
        "too many attachments",
        { room: "lobby", text: "x", attachmentFileIds: ["a", "b", "c"] },
        /attachment_file_ids|attachmentFileIds/,
      ],
      [
        "unknown attachment file id",
        { room: "lobby", text: "x", attachmentFileIds: ["no-such-file"] },
        /attachment_file_ids|attachmentFileIds/,
      ],
    ];
    for (const [what, req, field] of invalid) {
      it(`rejects ${what} with InvalidArgument naming the field (${v.name})`, async () => {
        const c = v.open(ts.url, alice);
        try {
          const err = await expectConnectError(c.api.send(req, { timeoutMs: 5000 }));
          assert.equal(err.code, Code.InvalidArgument, err.message);
          assert.match(err.rawMessage, field);
        } finally {
          c.close();
        }
      });
    }
  }

  const badUtf8Body = concatBytes(
    rawField(1, "lobby"),
    rawField(2, Uint8Array.of(0x68, 0xff, 0xfe)),
  );

  it("rejects invalid UTF-8 in text with InvalidArgument naming the field (grpc-js raw body)", async () => {
    const g = createGrpcJsClient(ts.url, alice);
    try {
      const err = await expectConnectError(g.rawUnary("Send", badUtf8Body, { timeoutMs: 5000 }));
      assert.equal(err.code, Code.InvalidArgument, err.message);
      assert.match(err.rawMessage, /text/);
    } finally {
      g.close();
    }
  });

  it("rejects invalid UTF-8 in text with invalid_argument naming the field (Connect raw HTTP/1.1 body)", async () => {
    const res = await postConnectUnary(ts.url, "Send", badUtf8Body, {
      authorization: `Bearer ${alice}`,
    });
    assert.equal(res.status, 400, res.body.toString());
    const json = JSON.parse(res.body.toString()) as { code: string; message: string };
    assert.equal(json.code, "invalid_argument");
    assert.match(json.message, /text/);
  });

  it("ignores unknown and forged sender fields in a raw body: the sender is the token's subject", async () => {
    // Field 5 looks like a `User sender`, field 99 is unknown: neither exists in SendRequest.
    const forged = concatBytes(
      rawField(1, "lobby-raw"),
      rawField(2, "hi"),
      rawField(5, rawField(1, "mallory")),
      rawField(99, "mallory"),
    );
    const g = createGrpcJsClient(ts.url, alice);
    try {
      const viaGrpc = fromBinary(
        SendResponseSchema,
        await g.rawUnary("Send", forged, { timeoutMs: 5000 }),
      );
      assert.equal(viaGrpc.message?.sender?.id, "alice");
      const res = await postConnectUnary(ts.url, "Send", forged, {
        authorization: `Bearer ${alice}`,
        "x-user": "mallory",
      });
      assert.equal(res.status, 200, res.body.toString());
      const viaConnect = fromBinary(SendResponseSchema, res.body);
      assert.equal(viaConnect.message?.sender?.id, "alice");
      const h = await createHistorySenders(ts, alice);
      assert.deepEqual([...new Set(h)], ["alice"]);
    } finally {
      g.close();
    }
  });
});

async function createHistorySenders(ts: TestServer, token: string): Promise<string[]> {
  const c = protocolVariants[0]!.open(ts.url, token);
  try {
    const h = await c.api.history({ room: "lobby-raw", limit: 100 }, { timeoutMs: 5000 });
    return h.messages.map((m) => m.sender?.id ?? "");
  } finally {
    c.close();
  }
}
