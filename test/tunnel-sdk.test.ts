/**
 * The WebSocket tunnel through the SDK transport (createNodeTunnelTransport),
 * side by side with gRPC over h2c: Chat and Upload give the same results,
 * codes and limits; auth, deadlines and cancellation behave as over HTTP.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { openChatSession } from "../src/client/chat-session.js";
import { createSwitchboardClient } from "../src/client/create-client.js";
import { ChatRequestError } from "../src/client/errors.js";
import { uploadStream } from "../src/client/upload.js";
import {
  PresenceKind,
  UploadRequestSchema,
  type UploadResponse,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  type ChatApi,
  createPushable,
  type ProtocolVariant,
  protocolVariants,
  roomFor,
  type UploadFrame,
  waitFor,
} from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";
import { codeOf, openTunnelClient, tunnelVariant } from "./tunnel-harness.js";

const grpcVariant = protocolVariants.find((v) => v.name === "grpc/h2c")!;
const variants: readonly ProtocolVariant[] = [grpcVariant, tunnelVariant];
const maxChunkBytes = 256 * 1024;
const maxFileBytes = 8 * 1024 * 1024;

/** Runs `fn` with a client of `v`, closing it afterwards. */
async function withClient<T>(
  v: ProtocolVariant,
  url: string,
  token: string | undefined,
  fn: (api: ChatApi) => Promise<T>,
): Promise<T> {
  const c = v.open(url, token);
  try {
    return await fn(c.api);
  } finally {
    c.close();
  }
}

function errorCode(e: unknown): string {
  if (e instanceof ChatRequestError) return `frame:${e.code}`;
  return `call:${Code[ConnectError.from(e).code]}`;
}

async function* uploadFrames(frames: UploadFrame[]): AsyncGenerator<UploadFrame> {
  for (const f of frames) yield f;
}

describe("tunnel through the SDK transport, compared with gRPC", () => {
  let ts: TestServer;
  let alice: string;
  let bob: string;
  let narrow: string;

  before(async () => {
    ts = await startTestServer({ limits: { maxChunkBytes, maxFileBytes, maxTextBytes: 64 } });
    alice = await ts.token({ subject: "alice", name: "Alice", rooms: ["*"] });
    bob = await ts.token({ subject: "bob", name: "Bob", rooms: ["*"] });
    narrow = await ts.token({ subject: "carol", rooms: ["open-*"] });
  });
  after(() => ts.close());

  it("Chat gives the same joins, acks, messages, presence and per-frame errors as gRPC", async () => {
    const results: unknown[] = [];
    for (const v of variants) {
      const room = roomFor(v, "chat");
      const a = v.open(ts.url, alice);
      const b = v.open(ts.url, bob);
      try {
        const chatA = openChatSession(a.api);
        const chatB = openChatSession(b.api);
        const joinedA = await chatA.join(room, { kind: "beginning" });
        const joinedB = await chatB.join(room, { kind: "beginning" });
        const first = await chatA.send(room, "hello", { clientMessageId: "m1" });
        const again = await chatA.send(room, "hello", { clientMessageId: "m1" });
        const errors: string[] = [];
        for (const attempt of [
          () => chatA.send("bad room!", "x"),
          () => chatA.send(room, "x".repeat(65)),
          () => chatA.join("bad room!"),
        ]) {
          await attempt().then(
            () => errors.push("ok"),
            (e) => errors.push(errorCode(e)),
          );
        }
        const received: string[] = [];
        const presence: string[] = [];
        const readA = (async () => {
          for await (const ev of chatA.events) {
            if (ev.case === "presence")
              presence.push(`${PresenceKind[ev.value.kind]}:${ev.value.user?.id}`);
          }
        })();
        const readB = (async () => {
          for await (const ev of chatB.events) {
            if (ev.case === "message")
              received.push(`${ev.value.sender?.displayName}:${ev.value.text}`);
            if (received.length === 1) chatB.close();
          }
        })();
        await readB;
        await chatB.done;
        await waitFor("bob's leave presence", () => presence.includes("LEAVE:bob"));
        chatA.close();
        await readA;
        await chatA.done;
        results.push({
          membersA: joinedA.members.map((m) => m.id),
          membersB: joinedB.members.map((m) => m.id).sort(),
          recoveredB: joinedB.state?.recovered,
          first: {
            duplicate: first.duplicate,
            text: first.message?.text,
            sender: first.message?.sender?.id,
          },
          again: {
            duplicate: again.duplicate,
            offset: again.message?.offset === first.message?.offset,
          },
          errors,
          received,
          presence,
        });
      } finally {
        a.close();
        b.close();
      }
    }
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual((results[0] as { errors: string[] }).errors, [
      "frame:invalid_argument",
      "frame:invalid_argument",
      "frame:invalid_argument",
    ]);
  });

  it("Upload stores a multi-MB file with the same size and sha256 as gRPC", async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 123);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    for (const v of variants) {
      const file = await withClient(v, ts.url, alice, (api) =>
        uploadStream(api, { name: "big.bin", size: bytes.length, room: "files" }, [bytes]),
      );
      assert.equal(file.size, BigInt(bytes.length), v.name);
      assert.equal(file.sha256, sha256, v.name);
      assert.equal(file.uploader?.id, "alice", v.name);
    }
  });

  it("Upload limits and errors give the same codes as gRPC", async () => {
    const cases: { name: string; token: () => string; frames: UploadFrame[] }[] = [
      {
        name: "chunk over the limit",
        token: () => alice,
        frames: [
          { payload: { case: "metadata", value: { name: "a" } } },
          { payload: { case: "chunk", value: new Uint8Array(maxChunkBytes + 1) } },
        ],
      },
      {
        name: "file over the limit",
        token: () => alice,
        frames: [
          { payload: { case: "metadata", value: { name: "a" } } },
          ...Array.from({ length: maxFileBytes / maxChunkBytes + 1 }, () => ({
            payload: { case: "chunk" as const, value: new Uint8Array(maxChunkBytes) },
          })),
        ],
      },
      {
        name: "declared size too big",
        token: () => alice,
        frames: [
          { payload: { case: "metadata", value: { name: "a", size: BigInt(maxFileBytes + 1) } } },
        ],
      },
      {
        name: "no metadata first",
        token: () => alice,
        frames: [{ payload: { case: "chunk", value: new Uint8Array(3) } }],
      },
      {
        name: "size mismatch",
        token: () => alice,
        frames: [
          { payload: { case: "metadata", value: { name: "a", size: 10n } } },
          { payload: { case: "chunk", value: new Uint8Array(3) } },
        ],
      },
      {
        name: "room not allowed",
        token: () => narrow,
        frames: [{ payload: { case: "metadata", value: { name: "a", room: "closed" } } }],
      },
      { name: "empty upload", token: () => alice, frames: [] },
    ];
    for (const c of cases) {
      const codes: Code[] = [];
      for (const v of variants) {
        codes.push(
          await withClient(v, ts.url, c.token(), (api) =>
            codeOf(api.upload(uploadFrames(c.frames))),
          ),
        );
      }
      assert.equal(Code[codes[1]!], Code[codes[0]!], c.name);
    }
    assert.equal(ts.server.backend.blobs.openUploads, 0);
  });

  it("unary and server-streaming calls work over the tunnel too", async () => {
    await withClient(tunnelVariant, ts.url, alice, async (api) => {
      const sent = await api.send({ room: "unary-tunnel", text: "one" });
      const page = await api.history({ room: "unary-tunnel", limit: 10 });
      assert.deepEqual(
        page.messages.map((m) => m.text),
        ["one"],
      );
      const ac = new AbortController();
      const it = api.subscribe(
        { rooms: [{ room: "unary-tunnel", start: { case: "afterOffset", value: 0n } }] },
        { signal: ac.signal },
      );
      for await (const ev of it) {
        if (ev.event.case === "message") {
          assert.equal(ev.event.value.offset, sent.message?.offset);
          break;
        }
      }
      ac.abort();
      assert.equal(
        Code[await codeOf(api.send({ room: "bad room!", text: "x" }))],
        "InvalidArgument",
      );
    });
  });

  it("a missing or bad token ends Chat, Upload and Send with unauthenticated, as over gRPC", async () => {
    for (const token of [undefined, "not-a-jwt", `${alice}x`]) {
      for (const v of variants) {
        await withClient(v, ts.url, token, async (api) => {
          const chat = openChatSession(api);
          assert.equal(
            errorCode(await chat.join("lobby").catch((e) => e)),
            "call:Unauthenticated",
            v.name,
          );
          const upload = api.upload(
            uploadFrames([{ payload: { case: "metadata", value: { name: "a" } } }]),
          );
          assert.equal(Code[await codeOf(upload)], "Unauthenticated", v.name);
          assert.equal(
            Code[await codeOf(api.send({ room: "r", text: "x" }))],
            "Unauthenticated",
            v.name,
          );
        });
      }
    }
  });

  it("a passed deadline ends Chat with deadline_exceeded and releases its subscription", async () => {
    const fanout = ts.server.backend.fanout;
    const baseline = fanout.activeSubscriptions;
    for (const v of variants) {
      await withClient(v, ts.url, alice, async (api) => {
        const requests =
          createPushable<
            Parameters<ChatApi["chat"]>[0] extends AsyncIterable<infer F> ? F : never
          >();
        requests.push({
          requestId: "j",
          action: { case: "join", value: { position: { room: roomFor(v, "deadline") } } },
        });
        const started = Date.now();
        const code = await codeOf(
          (async () => {
            for await (const _ of api.chat(requests, { timeoutMs: 400 })) {
              // keep reading until the deadline
            }
          })(),
        );
        assert.equal(Code[code], "DeadlineExceeded", v.name);
        assert.ok(Date.now() - started < 5_000);
        await waitFor(
          `${v.name}: subscriptions released`,
          () => fanout.activeSubscriptions === baseline,
        );
      });
    }
  });

  it("a passed deadline ends a stalled Upload with deadline_exceeded and discards it", async () => {
    const { blobs } = ts.server.backend;
    for (const v of variants) {
      await withClient(v, ts.url, alice, async (api) => {
        const frames = createPushable<UploadFrame>();
        frames.push({ payload: { case: "metadata", value: { name: "stalled" } } });
        frames.push({ payload: { case: "chunk", value: new Uint8Array(10) } });
        const code = await codeOf(api.upload(frames, { timeoutMs: 400 }));
        assert.equal(Code[code], "DeadlineExceeded", v.name);
        await waitFor(`${v.name}: upload discarded`, () => blobs.openUploads === 0);
      });
    }
  });

  it("cancelling Chat and Upload over the tunnel releases the subscription and the upload", async () => {
    const { fanout, blobs } = ts.server.backend;
    const subs = fanout.activeSubscriptions;
    const c = openTunnelClient(ts.url, alice);
    try {
      const ac = new AbortController();
      const chat = openChatSession(c.api, { signal: ac.signal });
      await chat.join("cancel-room");
      assert.equal(fanout.activeSubscriptions, subs + 1);
      ac.abort();
      await chat.done.catch(() => {});
      await waitFor("chat subscription released", () => fanout.activeSubscriptions === subs);

      const uploads = blobs.openUploads;
      const upAc = new AbortController();
      const frames = createPushable<UploadFrame>();
      frames.push(
        create(UploadRequestSchema, { payload: { case: "metadata", value: { name: "p" } } }),
      );
      frames.push({ payload: { case: "chunk", value: new Uint8Array(1000) } });
      const pending: Promise<UploadResponse> = c.api.upload(frames, { signal: upAc.signal });
      await waitFor("upload opened", () => blobs.openUploads === uploads + 1);
      upAc.abort();
      assert.equal(Code[await codeOf(pending)], "Canceled");
      await waitFor("upload discarded", () => blobs.openUploads === uploads);

      // Closing the socket cancels too.
      const chat2 = openChatSession(c.api);
      await chat2.join("cancel-room-2");
      assert.equal(fanout.activeSubscriptions, subs + 1);
      c.transport.close();
      assert.equal(errorCode(await chat2.done.catch((e) => e)), "call:Unavailable");
      await waitFor(
        "socket close released the subscription",
        () => fanout.activeSubscriptions === subs,
      );
    } finally {
      c.close();
    }
  });

  it("createSwitchboardClient with transport tunnel sends, chats and uploads over the tunnel", async () => {
    const sb = createSwitchboardClient({ baseUrl: ts.url, token: alice, transport: "tunnel" });
    const sent = await sb.send("sdk-tunnel", "via sdk");
    const chat = sb.chat();
    const joined = await chat.join("sdk-tunnel", { kind: "beginning" });
    assert.equal(joined.state?.headOffset, sent.message?.offset);
    chat.close();
    await chat.done;
    const file = await sb.upload({ name: "s.txt" }, [new TextEncoder().encode("sdk")]);
    assert.equal(file.size, 3n);
  });

  it("many calls share one socket at once", async () => {
    const c = openTunnelClient(ts.url, alice);
    try {
      const sends = await Promise.all(
        Array.from({ length: 50 }, (_, i) => c.api.send({ room: "many", text: `m${i}` })),
      );
      assert.equal(new Set(sends.map((s) => s.message?.offset)).size, 50);
      const uploads = await Promise.all(
        [1, 2, 3].map((n) =>
          uploadStream(c.api, { name: `f${n}` }, [new Uint8Array(300_000).fill(n)]),
        ),
      );
      assert.deepEqual(
        uploads.map((u) => u.size),
        [300_000n, 300_000n, 300_000n],
      );
    } finally {
      c.close();
    }
  });
});
