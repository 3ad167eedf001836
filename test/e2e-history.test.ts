/**
 * End-to-end tests of History over real sockets, with every protocol variant,
 * including gzip-compressed responses.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  Direction,
  HistoryRequestSchema,
  HistoryResponseSchema,
  type Message,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import {
  expectConnectError,
  postConnectUnary,
  protocolVariants,
  roomFor,
} from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

describe("e2e History", () => {
  let ts: TestServer;
  let token: string;
  const stored = new Map<string, Message[]>();
  const bigRoom = "lobby-big";
  before(async () => {
    ts = await startTestServer({ backend: "memory" });
    token = await ts.token({ subject: "alice", rooms: ["lobby*"] });
    const c = protocolVariants[0]!.open(ts.url, token);
    try {
      for (const v of protocolVariants) {
        const room = roomFor(v, "lobby-hist");
        const msgs: Message[] = [];
        for (let i = 0; i < 25; i++)
          msgs.push((await c.api.send({ room, text: `m${i}` })).message!);
        stored.set(v.name, msgs);
      }
      for (let i = 0; i < 60; i++)
        await c.api.send({ room: bigRoom, text: `${i}:${"lorem ipsum ".repeat(90)}` });
    } finally {
      c.close();
    }
  });
  after(async () => {
    await ts?.close();
  });

  for (const v of protocolVariants) {
    it(`pages backward from the newest, each page oldest first, until has_more=false (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      const room = roomFor(v, "lobby-hist");
      const all = stored.get(v.name)!;
      try {
        const pages: Message[][] = [];
        let anchor = 0n;
        for (;;) {
          const p = await c.api.history(
            { room, offset: anchor, direction: Direction.BACKWARD, limit: 10 },
            { timeoutMs: 5000 },
          );
          assert.equal(p.headOffset, all.at(-1)!.offset);
          assert.equal(p.epoch, all[0]!.epoch);
          pages.unshift(p.messages);
          if (!p.hasMore) break;
          anchor = p.messages[0]!.offset;
          assert.ok(pages.length <= 3, "terminates");
        }
        assert.deepEqual(
          pages.map((p) => p.length),
          [5, 10, 10],
        );
        assert.deepEqual(
          pages.flat().map((m) => m.offset),
          all.map((m) => m.offset),
        );
        assert.deepEqual(
          pages.flat().map((m) => m.text),
          all.map((m) => m.text),
        );
      } finally {
        c.close();
      }
    });

    it(`pages forward from offset 0, oldest first, until has_more=false (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      const room = roomFor(v, "lobby-hist");
      const all = stored.get(v.name)!;
      try {
        const got: Message[] = [];
        const more: boolean[] = [];
        let anchor = 0n;
        for (let i = 0; i < 4; i++) {
          const p = await c.api.history(
            { room, offset: anchor, direction: Direction.FORWARD, limit: 10 },
            { timeoutMs: 5000 },
          );
          got.push(...p.messages);
          more.push(p.hasMore);
          if (!p.hasMore) break;
          anchor = p.messages.at(-1)!.offset;
        }
        assert.deepEqual(more, [true, true, false]);
        assert.deepEqual(
          got.map((m) => m.offset),
          all.map((m) => m.offset),
        );
      } finally {
        c.close();
      }
    });

    it(`limit 0 means 100 and direction unspecified means backward (${v.name})`, async () => {
      const c = v.open(ts.url, token);
      const room = roomFor(v, "lobby-hist");
      const all = stored.get(v.name)!;
      try {
        const p = await c.api.history({ room }, { timeoutMs: 5000 });
        assert.equal(p.messages.length, 25);
        assert.equal(p.hasMore, false);
        const newest = await c.api.history({ room, limit: 3 }, { timeoutMs: 5000 });
        assert.deepEqual(
          newest.messages.map((m) => m.offset),
          all.slice(-3).map((m) => m.offset),
        );
        const empty = await c.api.history({ room: roomFor(v, "lobby-empty") }, { timeoutMs: 5000 });
        assert.equal(empty.messages.length, 0);
        assert.equal(empty.headOffset, 0n);
        assert.ok(empty.epoch.length > 0, "an empty room still has an epoch");
      } finally {
        c.close();
      }
    });

    const invalid: [string, Record<string, unknown>, RegExp][] = [
      ["a limit over 1000", { room: "lobby", limit: 1001 }, /limit/],
      ["an empty room", { room: "" }, /room/],
      ["a malformed room", { room: "lobby/../x" }, /room/],
    ];
    for (const [what, req, field] of invalid) {
      it(`rejects ${what} with InvalidArgument naming the field (${v.name})`, async () => {
        const c = v.open(ts.url, token);
        try {
          const err = await expectConnectError(c.api.history(req, { timeoutMs: 5000 }));
          assert.equal(err.code, Code.InvalidArgument, err.message);
          assert.match(err.rawMessage, field);
        } finally {
          c.close();
        }
      });
    }
  }

  for (const v of protocolVariants.filter((x) => x.library === "connect-node")) {
    it(`a large page is served gzip-compressed when the client accepts gzip and decodes intact (${v.name})`, async () => {
      const c = v.open(ts.url, token, { acceptGzip: true });
      try {
        let headers: Headers | undefined;
        const p = await c.api.history(
          { room: bigRoom, limit: 100 },
          { timeoutMs: 5000, onHeader: (h) => (headers = h) },
        );
        assert.equal(p.messages.length, 60);
        assert.ok(p.messages.every((m, i) => m.text.startsWith(`${i}:`)));
        if (v.name.startsWith("connect/")) {
          assert.equal(
            headers?.get("content-encoding"),
            "gzip",
            "Connect unary response is gzip-encoded",
          );
        } else {
          assert.equal(
            headers?.get("grpc-encoding"),
            "gzip",
            "gRPC response messages are gzip-encoded",
          );
        }
      } finally {
        c.close();
      }
    });
  }

  it("a raw Connect HTTP/1.1 request with accept-encoding gzip gets a gzip body that decodes to the page", async () => {
    const body = toBinary(
      HistoryRequestSchema,
      create(HistoryRequestSchema, { room: bigRoom, limit: 100 }),
    );
    const res = await postConnectUnary(ts.url, "History", body, {
      authorization: `Bearer ${token}`,
      "accept-encoding": "gzip",
    });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers["content-encoding"], "gzip");
    const plain = gunzipSync(res.body);
    assert.ok(res.body.length < plain.length / 2, "the body is really compressed");
    assert.equal(fromBinary(HistoryResponseSchema, plain).messages.length, 60);
  });
});
