import assert from "node:assert/strict";
import { after, before, describe as suite, test } from "node:test";
import { clone, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  Direction,
  file_switchboard_chat_v1_chat,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { connectErrorOf, createHarness, describe, type Harness } from "./service-harness.js";

/**
 * The ChatService with every string field turned into `bytes`, so a test can
 * put invalid UTF-8 on the wire (a JS client cannot: toBinary replaces lone
 * surrogates with U+FFFD).
 */
function rawBytesService(): DescService {
  const proto = clone(FileDescriptorProtoSchema, file_switchboard_chat_v1_chat.proto);
  for (const message of proto.messageType) {
    for (const field of message.field) {
      if (field.type === FieldDescriptorProto_Type.STRING)
        field.type = FieldDescriptorProto_Type.BYTES;
    }
  }
  const registry = createFileRegistry(proto, () => file_google_protobuf_timestamp);
  const service = registry.getService("switchboard.chat.v1.ChatService");
  assert.ok(service);
  return service;
}

const invalidUtf8 = new Uint8Array([0x68, 0x69, 0xc3, 0x28]);
const utf8 = (text: string) => new TextEncoder().encode(text);

suite("Send", () => {
  let h: Harness;
  before(() => {
    h = createHarness({ limits: { maxTextBytes: 16, maxAttachments: 2 } });
  });
  after(() => h.close());

  test("stores a message with the sender from the token and increasing offsets", async () => {
    const alice = h.client("alice");
    const first = await alice.send({ room: "send.basic", text: "hello" });
    const second = await alice.send({ room: "send.basic", text: "again" });
    assert.equal(first.duplicate, false);
    assert.equal(first.message?.room, "send.basic");
    assert.equal(first.message?.text, "hello");
    assert.equal(first.message?.sender?.id, "alice");
    assert.equal(first.message?.sender?.displayName, "Alice");
    assert.ok(first.message?.time);
    assert.ok(first.message && second.message && second.message.offset > first.message.offset);
    assert.equal(second.message?.epoch, first.message?.epoch);
  });

  test("a retry with the same client_message_id returns the first message as duplicate", async () => {
    const alice = h.client("alice");
    const a = await alice.send({ room: "send.idem", text: "once", clientMessageId: "k1" });
    const b = await alice.send({ room: "send.idem", text: "twice", clientMessageId: "k1" });
    assert.equal(b.duplicate, true);
    assert.equal(b.message?.id, a.message?.id);
    assert.equal(b.message?.text, "once");
    assert.equal(b.message?.clientMessageId, "k1");
  });

  test("attachments are resolved to their file descriptions", async () => {
    const alice = h.client("alice");
    const { file } = await alice.upload(
      (async function* () {
        yield {
          payload: {
            case: "metadata" as const,
            value: { name: "a.txt", contentType: "text/plain" },
          },
        };
        yield { payload: { case: "chunk" as const, value: utf8("abc") } };
      })(),
    );
    assert.ok(file);
    const res = await alice.send({
      room: "send.att",
      text: "see file",
      attachmentFileIds: [file.id],
    });
    assert.equal(res.message?.attachments.length, 1);
    assert.equal(res.message?.attachments[0]?.id, file.id);
    assert.equal(res.message?.attachments[0]?.size, 3n);
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ["empty room", { room: "", text: "x" }, /^room: must be 1-128 characters/],
    ["room with a space", { room: "a b", text: "x" }, /^room: /],
    ["room of 129 characters", { room: "r".repeat(129), text: "x" }, /^room: /],
    [
      "text over the byte limit",
      { room: "ok", text: "é".repeat(9) },
      /^text: must be at most 16 bytes/,
    ],
    [
      "too many attachments",
      { room: "ok", attachmentFileIds: ["a", "b", "c"] },
      /^attachment_file_ids: at most 2/,
    ],
    [
      "an empty attachment id",
      { room: "ok", attachmentFileIds: ["a", ""] },
      /^attachment_file_ids\[1\]: must not be empty/,
    ],
    [
      "an unknown attachment id",
      { room: "ok", attachmentFileIds: ["nope"] },
      /^attachment_file_ids\[0\]: unknown file "nope"/,
    ],
    [
      "client_message_id over 128 characters",
      { room: "ok", text: "hi", clientMessageId: "k".repeat(129) },
      /^client_message_id: must be at most 128/,
    ],
    [
      "an empty text without attachments",
      { room: "ok", text: "" },
      /^text: must not be empty when there are no attachments/,
    ],
  ];
  for (const [what, req, message] of invalid) {
    test(`rejects ${what} with InvalidArgument naming the field`, async () => {
      const err = await connectErrorOf(() => h.client("alice").send(req));
      assert.equal(describe(err).code, "InvalidArgument");
      assert.match(err.rawMessage, message);
    });
  }

  test("a lone surrogate sent as a JSON escape is InvalidArgument naming text", async () => {
    const err = await connectErrorOf(() =>
      h.client("alice", { json: true }).send({ room: "ok", text: "a\ud800b" }),
    );
    assert.equal(describe(err).code, "InvalidArgument");
    // connect-es's JSON decoder refuses it first (already InvalidArgument, naming the field);
    // validateText would otherwise.
    assert.match(
      err.rawMessage,
      /SendRequest\.text from JSON: .*invalid UTF8|^text: must be valid UTF-8/,
    );
  });

  test("invalid UTF-8 on the wire is InvalidArgument, not Internal, for every RPC", async () => {
    const raw = h.clientOf(rawBytesService(), "alice") as Client<DescService> &
      Record<string, never>;
    const calls: [string, () => Promise<unknown>][] = [
      ["send", () => (raw.send as Fn)({ room: utf8("ok"), text: invalidUtf8 })],
      ["history", () => (raw.history as Fn)({ room: invalidUtf8 })],
      ["subscribe", () => drain((raw.subscribe as StreamFn)({ rooms: [{ room: invalidUtf8 }] }))],
      ["download", () => drain((raw.download as StreamFn)({ fileId: invalidUtf8 }))],
      [
        "upload",
        () =>
          (raw.upload as Fn)(
            (async function* () {
              yield { payload: { case: "metadata", value: { name: invalidUtf8 } } };
            })(),
          ),
      ],
      [
        "chat",
        () =>
          drain(
            (raw.chat as StreamFn)(
              (async function* () {
                yield { requestId: invalidUtf8 };
              })(),
            ),
          ),
      ],
    ];
    for (const [name, call] of calls) {
      const err = await connectErrorOf(call);
      assert.equal(describe(err).code, "InvalidArgument", `${name}: ${err.message}`);
      assert.match(err.rawMessage, /^request: cannot decode message: /, name);
    }
  });

  test("publishing to a room outside the token's patterns is PermissionDenied naming the room", async () => {
    const err = await connectErrorOf(() => h.client("bob").send({ room: "private.x", text: "hi" }));
    assert.equal(describe(err).code, "PermissionDenied");
    assert.match(err.rawMessage, /"private\.x"/);
    const ok = await h.client("bob").send({ room: "public.x", text: "hi" });
    assert.equal(ok.message?.room, "public.x");
  });

  test("a call without a user is Unauthenticated", async () => {
    const err = await connectErrorOf(() => h.client().send({ room: "lobby", text: "hi" }));
    assert.equal(describe(err).code, "Unauthenticated");
  });
});

type Fn = (req: unknown) => Promise<unknown>;
type StreamFn = (req: unknown) => AsyncIterable<unknown>;

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // read until the end or the error
  }
}

suite("History", () => {
  let h: Harness;
  before(async () => {
    h = createHarness();
    const alice = h.client("alice");
    for (let i = 1; i <= 5; i++) await alice.send({ room: "hist", text: `m${i}` });
  });
  after(() => h.close());

  test("backward from the head returns the newest messages oldest first with has_more", async () => {
    const page = await h.client("alice").history({ room: "hist", limit: 2 });
    assert.deepEqual(
      page.messages.map((m) => m.text),
      ["m4", "m5"],
    );
    assert.equal(page.hasMore, true);
    assert.equal(page.headOffset, 5n);
    assert.ok(page.epoch.length > 0);
    const older = await h.client("alice").history({
      room: "hist",
      offset: page.messages[0]?.offset ?? 0n,
      direction: Direction.BACKWARD,
      limit: 10,
    });
    assert.deepEqual(
      older.messages.map((m) => m.text),
      ["m1", "m2", "m3"],
    );
    assert.equal(older.hasMore, false);
  });

  test("forward from an offset returns later messages; limit 0 means the default page", async () => {
    const page = await h
      .client("alice")
      .history({ room: "hist", offset: 3n, direction: Direction.FORWARD });
    assert.deepEqual(
      page.messages.map((m) => m.offset),
      [4n, 5n],
    );
    assert.equal(page.hasMore, false);
  });

  test("an empty room answers its epoch and head 0", async () => {
    const page = await h.client("alice").history({ room: "hist.empty" });
    assert.equal(page.messages.length, 0);
    assert.equal(page.headOffset, 0n);
  });

  test("limit over 1000, an unknown direction and a bad room are InvalidArgument naming the field", async () => {
    const alice = h.client("alice");
    let err = await connectErrorOf(() => alice.history({ room: "hist", limit: 1001 }));
    assert.equal(describe(err).code, "InvalidArgument");
    assert.match(err.rawMessage, /^limit: must be at most 1000/);
    err = await connectErrorOf(() => alice.history({ room: "hist", direction: 9 as Direction }));
    assert.match(err.rawMessage, /^direction: /);
    err = await connectErrorOf(() => alice.history({ room: "no/slash" }));
    assert.match(err.rawMessage, /^room: /);
  });

  test("reading a room outside the subscribe patterns is PermissionDenied", async () => {
    const err = await connectErrorOf(() => h.client("bob").history({ room: "hist" }));
    assert.equal(describe(err).code, "PermissionDenied");
    assert.match(err.rawMessage, /"hist"/);
  });
});
