/**
 * End-to-end durability: a sqlite server restarted on the same data directory
 * keeps history, epochs and files, and offsets continue.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Message } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { protocolVariants, pull } from "./helpers/clients.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("e2e restart (sqlite)", () => {
  for (const v of protocolVariants) {
    it(`a restart on the same data dir keeps history, epoch, idempotency and files; offsets continue (${v.name})`, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "switchboard-e2e-restart-"));
      const servers: TestServer[] = [];
      const start = async () => {
        const s = await startTestServer({ backend: "sqlite", dataDir });
        servers.push(s);
        return s;
      };
      try {
        const room = "lobby-durable";
        const data = new Uint8Array(300_000).map((_, i) => (i * 31) % 251);
        const first = await start();
        const oldToken = await first.token({ subject: "alice", rooms: ["lobby*"] });
        const before: Message[] = [];
        let fileId = "";
        {
          const c = v.open(first.url, oldToken);
          try {
            for (let i = 0; i < 5; i++) {
              before.push(
                (await c.api.send({ room, text: `m${i}`, clientMessageId: `k${i}` })).message!,
              );
            }
            const res = await c.api.upload(
              (async function* () {
                yield { payload: { case: "metadata" as const, value: { name: "keep.bin", room } } };
                yield { payload: { case: "chunk" as const, value: data } };
              })(),
              { timeoutMs: 10_000 },
            );
            fileId = res.file!.id;
          } finally {
            c.close();
          }
        }
        await first.close();

        const second = await start();
        const token = await second.token({ subject: "alice", rooms: ["lobby*"] });
        const c = v.open(second.url, token);
        try {
          const h = await c.api.history({ room, limit: 100 }, { timeoutMs: 5000 });
          assert.deepEqual(
            h.messages.map((m) => [m.offset, m.text, m.id, m.sender?.id]),
            before.map((m) => [m.offset, m.text, m.id, m.sender?.id]),
          );
          assert.equal(h.epoch, before[0]!.epoch, "epoch survives the restart");
          assert.equal(h.headOffset, before.at(-1)!.offset);

          const retry = await c.api.send(
            { room, text: "m4", clientMessageId: "k4" },
            { timeoutMs: 5000 },
          );
          assert.equal(retry.duplicate, true, "idempotency survives the restart");
          assert.equal(retry.message?.offset, before.at(-1)!.offset);

          const next = await c.api.send({ room, text: "after" }, { timeoutMs: 5000 });
          assert.ok(
            next.message!.offset > before.at(-1)!.offset,
            "offsets continue after the restart",
          );
          assert.equal(next.message!.epoch, before[0]!.epoch);

          // Resume a subscription from the last offset seen before the restart.
          const it = c.api
            .subscribe(
              {
                rooms: [
                  {
                    room,
                    epoch: before[0]!.epoch,
                    start: { case: "afterOffset", value: before.at(-1)!.offset },
                  },
                ],
              },
              { timeoutMs: 5000 },
            )
            [Symbol.asyncIterator]();
          const st = await pull(it, (e) => e.event.case === "heartbeat");
          assert.ok(
            st.event.case === "roomState" && st.event.value.recovered,
            "resume is recovered",
          );
          const m = await pull(it, (e) => e.event.case === "heartbeat");
          assert.ok(m.event.case === "message" && m.event.value.offset === next.message!.offset);
          await it.return?.();

          const chunks: Uint8Array[] = [];
          for await (const r of c.api.download({ fileId }, { timeoutMs: 10_000 })) {
            if (r.payload.case === "chunk") chunks.push(r.payload.value);
          }
          assert.equal(
            sha256(Buffer.concat(chunks)),
            sha256(data),
            "the file survives the restart",
          );
        } finally {
          c.close();
        }
        // A token minted before the restart still verifies: the generated secret is persisted.
        const old = v.open(second.url, oldToken);
        try {
          await old.api.history({ room, limit: 1 }, { timeoutMs: 5000 });
        } finally {
          old.close();
        }
      } finally {
        for (const s of servers) await s.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});
