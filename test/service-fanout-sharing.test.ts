/**
 * One delivery, one Message: every stream that receives a fanned-out message
 * live gets the same event object wrapping the same Message instance (so a
 * transport can serialize it once), on the memory and SQLite backends. The
 * handlers are called directly: a transport would serialize and so hide
 * object identity.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createContextValues, createHandlerContext } from "@connectrpc/connect";
import { createMemoryBackend } from "../src/backend/memory/index.js";
import { createSqliteBackend } from "../src/backend/sqlite/index.js";
import type { Backend } from "../src/backend/types.js";
import {
  ChatRequestSchema,
  type ChatResponse,
  ChatService,
  SubscribeRequestSchema,
  type SubscribeResponse,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { createChatService } from "../src/service/chat-service.js";
import { kUser } from "../src/service/context-values.js";
import { sharedMessage, toMessage } from "../src/service/convert.js";
import { createPushable, nextWithin, users } from "./service-harness.js";

function context(method: "subscribe" | "chat") {
  const values = createContextValues();
  values.set(kUser, users.alice);
  return createHandlerContext({
    service: ChatService,
    method: ChatService.method[method],
    protocolName: "connect",
    requestMethod: "POST",
    url: `http://localhost/switchboard.chat.v1.ChatService/${method}`,
    contextValues: values,
  });
}

const sender = { id: "alice", name: "Alice" };
const append = (backend: Backend, room: string, text: string) =>
  backend.log.append({ room, sender, text, attachments: [], clientMessageId: "" });

async function nextMessage<T extends SubscribeResponse | ChatResponse>(
  it: AsyncIterator<T>,
): Promise<T> {
  for (;;) {
    const res = await nextWithin(it);
    if (res.event.case === "message") return res;
  }
}

const backends: { name: string; open(): Promise<{ backend: Backend; close(): Promise<void> }> }[] =
  [
    {
      name: "memory",
      async open() {
        const backend = createMemoryBackend();
        return { backend, close: () => backend.close() };
      },
    },
    {
      name: "sqlite",
      async open() {
        const dir = await mkdtemp(join(tmpdir(), "switchboard-sharing-"));
        const backend = createSqliteBackend({ dataDir: dir });
        return {
          backend,
          async close() {
            await backend.close();
            await rm(dir, { recursive: true, force: true });
          },
        };
      },
    },
  ];

for (const kind of backends) {
  test(`every live stream gets the same event and Message object of a delivery (${kind.name})`, async (t) => {
    const { backend, close } = await kind.open();
    t.after(close);
    const service = createChatService({ backend });
    const room = "shared";
    const contexts = [context("subscribe"), context("subscribe"), context("chat"), context("chat")];
    t.after(() => {
      for (const ctx of contexts) ctx.abort();
    });
    const subscribe = (ctx: (typeof contexts)[number]) =>
      service
        .subscribe(create(SubscribeRequestSchema, { rooms: [{ room }] }), ctx)
        [Symbol.asyncIterator]() as AsyncIterator<SubscribeResponse>;
    const chat = (ctx: (typeof contexts)[number]) => {
      const frames = createPushable<ReturnType<typeof create<typeof ChatRequestSchema>>>();
      frames.push(
        create(ChatRequestSchema, {
          requestId: "j",
          action: { case: "join", value: { position: { room } } },
        }),
      );
      return service.chat(frames, ctx)[Symbol.asyncIterator]() as AsyncIterator<ChatResponse>;
    };
    const subs = [subscribe(contexts[0]!), subscribe(contexts[1]!)];
    const chats = [chat(contexts[2]!), chat(contexts[3]!)];
    for (const it of subs) assert.equal((await nextWithin(it)).event.case, "roomState");
    for (const it of chats) assert.equal((await nextWithin(it)).event.case, "joined");
    // Let every feed go live.
    await new Promise((resolve) => setTimeout(resolve, 50));

    for (const text of ["one", "two"]) {
      const { message } = await append(backend, room, text);
      const [a, b] = await Promise.all(subs.map((it) => nextMessage(it)));
      const [c, d] = await Promise.all(chats.map((it) => nextMessage(it)));
      assert.ok(a!.event.case === "message" && c!.event.case === "message");
      assert.equal(a!.event.value.text, text);
      assert.equal(a!.event.value.offset, message.offset);
      assert.equal(a, b, "Subscribe streams share the SubscribeResponse");
      assert.equal(c, d, "Chat streams share the ChatResponse");
      assert.equal(a!.event.value, c!.event.value, "Subscribe and Chat share the Message");
      assert.deepEqual(a!.event.value, toMessage(message));
    }
  });
}

test("sharedMessage converts once per StoredMessage object in a row", async (t) => {
  const backend = createMemoryBackend();
  t.after(() => backend.close());
  const { message: first } = await append(backend, "r", "a");
  const { message: second } = await append(backend, "r", "b");
  const m1 = sharedMessage(first);
  assert.equal(sharedMessage(first), m1);
  assert.deepEqual(m1, toMessage(first));
  const m2 = sharedMessage(second);
  assert.notEqual(m2, m1);
  assert.equal(m2.text, "b");
  assert.equal(sharedMessage(second), m2);
});
