/**
 * SDK chat session and history helpers over real sockets.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ChatEvent, ChatRequestError, createSwitchboardClient } from "../src/client/index.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

async function nextMatching(
  it: AsyncIterator<ChatEvent>,
  match: (e: ChatEvent) => boolean,
  timeoutMs = 10_000,
): Promise<ChatEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("timed out")),
          Math.max(1, deadline - Date.now()),
        );
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(next.done, false, "chat stream ended");
    if (match(next.value)) return next.value;
  }
}

describe("SDK chat session", () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ backend: "sqlite" });
  });
  after(() => ts?.close());

  it("joins, sends with an ack, receives messages and presence, and rejects a forbidden join", async () => {
    const ada = createSwitchboardClient({
      baseUrl: ts.url,
      token: await ts.token({ subject: "ada", name: "Ada", rooms: ["lobby"] }),
    });
    const bob = createSwitchboardClient({
      baseUrl: ts.url,
      token: await ts.token({ subject: "bob", rooms: ["lobby"] }),
    });
    const a = ada.chat();
    const b = bob.chat();
    try {
      const aEvents = a.events[Symbol.asyncIterator]();
      const joined = await a.join("lobby");
      assert.equal(joined.state?.room, "lobby");
      await b.join("lobby");
      const presence = await nextMatching(aEvents, (e) => e.case === "presence");
      assert.equal(presence.case === "presence" && presence.value.user?.id, "bob");

      const ack = await b.send("lobby", "hi ada", { clientMessageId: "k1" });
      assert.equal(ack.clientMessageId, "k1");
      assert.equal(ack.message?.text, "hi ada");
      const msg = await nextMatching(aEvents, (e) => e.case === "message");
      assert.equal(msg.case === "message" && msg.value.text, "hi ada");

      await assert.rejects(a.join("secret"), (err: unknown) => {
        assert.ok(err instanceof ChatRequestError);
        assert.equal(err.code, "permission_denied");
        return true;
      });
      const left = await a.leave("lobby");
      assert.equal(left.room, "lobby");

      const page = await ada.history("lobby", { limit: 10 });
      assert.deepEqual(
        page.messages.map((m) => m.text),
        ["hi ada"],
      );
    } finally {
      a.close();
      b.close();
      await a.done.catch(() => {});
      await b.done.catch(() => {});
    }
  });

  it("pages history backward and forward by offset", async () => {
    const sb = createSwitchboardClient({
      baseUrl: ts.url,
      token: await ts.token({ subject: "ada", rooms: ["*"] }),
      protocol: "connect",
    });
    for (let i = 1; i <= 5; i++) await sb.send("pages", `p${i}`);
    const newest = await sb.history("pages", { limit: 2 });
    assert.deepEqual(
      newest.messages.map((m) => m.text),
      ["p4", "p5"],
    );
    assert.equal(newest.hasMore, true);
    const older = await sb.history("pages", { limit: 2, before: newest.messages[0]!.offset });
    assert.deepEqual(
      older.messages.map((m) => m.text),
      ["p2", "p3"],
    );
    const newer = await sb.history("pages", { limit: 10, after: older.messages[1]!.offset });
    assert.deepEqual(
      newer.messages.map((m) => m.text),
      ["p4", "p5"],
    );
    assert.equal(newer.hasMore, false);
  });
});
