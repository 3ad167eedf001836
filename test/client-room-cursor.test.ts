/**
 * Unit tests of the per-room resume cursor (no sockets).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createBackoff } from "../src/client/backoff.js";
import {
  acceptMessage,
  applyRoomState,
  createRoomCursor,
  cursorPosition,
} from "../src/client/room-cursor.js";
import { rechunk } from "../src/client/upload.js";
import { MessageSchema, RoomStateSchema } from "../src/gen/switchboard/chat/v1/chat_pb.js";

const state = (epoch: string, headOffset: bigint, recovered = true) =>
  create(RoomStateSchema, { room: "r", epoch, headOffset, recovered });
const msg = (epoch: string, offset: bigint) => create(MessageSchema, { room: "r", epoch, offset });

describe("room cursor", () => {
  it("resumes a latest subscription after the head announced by the room state", () => {
    const c = createRoomCursor("r", { kind: "latest" });
    assert.equal(cursorPosition(c).start.case, undefined);
    applyRoomState(c, state("e1", 7n));
    const pos = cursorPosition(c);
    assert.deepEqual(pos.start, { case: "afterOffset", value: 7n });
    assert.equal(pos.epoch, "e1");
  });

  it("drops duplicates at or below the last delivered offset and resumes after it", () => {
    const c = createRoomCursor("r", { kind: "beginning" });
    applyRoomState(c, state("e1", 3n));
    assert.equal(acceptMessage(c, msg("e1", 2n)), true);
    assert.equal(acceptMessage(c, msg("e1", 2n)), false);
    assert.equal(acceptMessage(c, msg("e1", 1n)), false);
    assert.equal(acceptMessage(c, msg("e1", 5n)), true);
    assert.deepEqual(cursorPosition(c).start, { case: "afterOffset", value: 5n });
  });

  it("keeps last:K until the first message, then resumes after it", () => {
    const c = createRoomCursor("r", { kind: "last", count: 3 });
    applyRoomState(c, state("e1", 9n));
    assert.deepEqual(cursorPosition(c).start, { case: "last", value: 3 });
    acceptMessage(c, msg("e1", 7n));
    assert.deepEqual(cursorPosition(c).start, { case: "afterOffset", value: 7n });
  });

  it("starts the new epoch from 0 when the epoch changed, accepting its lower offsets", () => {
    const c = createRoomCursor("r", { kind: "beginning" });
    applyRoomState(c, state("e1", 0n));
    acceptMessage(c, msg("e1", 40n));
    applyRoomState(c, state("e2", 2n, false));
    assert.deepEqual(cursorPosition(c).start, { case: "afterOffset", value: 0n });
    assert.equal(cursorPosition(c).epoch, "e2");
    assert.equal(acceptMessage(c, msg("e2", 1n)), true);
  });
});

describe("upload rechunking and backoff", () => {
  it("rechunks any input into full chunks of the given size and a shorter last one", async () => {
    const input = [new Uint8Array(5), new Uint8Array(0), new Uint8Array(12), new Uint8Array(1)];
    const sizes: number[] = [];
    for await (const c of rechunk(input, 8)) sizes.push(c.length);
    assert.deepEqual(sizes, [8, 8, 2]);
  });

  it("grows backoff delays exponentially up to the cap and starts over after reset", () => {
    const b = createBackoff({ initialMs: 100, maxMs: 400, jitter: 0 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 400]);
    b.reset();
    assert.equal(b.next(), 100);
  });
});
