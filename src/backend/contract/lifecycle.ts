/**
 * Contract tests of `Backend.close()` and `health()`: after close every role
 * rejects with BackendClosedError, open uploads and subscriptions are
 * released, and health reports not ready.
 *
 * @module
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { BackendClosedError } from "../errors.js";
import { ada, type ContractContext, msg, readAll, testBytes, uploadBytes } from "./helpers.js";

/**
 * Registers the close/health tests in the current `describe`.
 *
 * @example
 * describe("x contract", () => { lifecycleContract(ctx); });
 */
export function lifecycleContract(ctx: ContractContext): void {
  it("after close every call rejects with BackendClosedError and health is not ready", async () => {
    const b = await ctx.open(await ctx.freshDir());
    assert.deepEqual(b.health(), { ready: true, reason: "" });
    await b.log.append(msg("r", "x"));
    const file = await uploadBytes(b, testBytes(10));
    const sub = await b.fanout.subscribe("r", () => {});
    const handle = await b.presence.join("r", ada);
    const pending = await b.blobs.create({ name: "p", contentType: "", room: "", uploader: ada });
    await pending.write(testBytes(10));
    await b.close();
    await b.close();
    assert.equal(b.health().ready, false);
    assert.ok(b.health().reason.length > 0);
    assert.equal(b.fanout.activeSubscriptions, 0);
    assert.equal(b.blobs.openUploads, 0);
    sub.close();
    await handle.leave();
    const closed = (e: unknown) => e instanceof BackendClosedError;
    await assert.rejects(b.log.append(msg("r", "y")), closed);
    await assert.rejects(b.log.read("r", { direction: "forward", offset: 0n, limit: 1 }), closed);
    await assert.rejects(b.log.info("r"), closed);
    await assert.rejects(
      b.fanout.subscribe("r", () => {}),
      closed,
    );
    await assert.rejects(
      b.blobs.create({ name: "q", contentType: "", room: "", uploader: ada }),
      closed,
    );
    await assert.rejects(b.blobs.stat(file.id), closed);
    await assert.rejects(readAll(b, file.id, 0), closed);
    await assert.rejects(b.presence.join("r", ada), closed);
    await assert.rejects(b.presence.list("r"), closed);
    await assert.rejects(
      b.presence.watch("r", () => {}),
      closed,
    );
    await assert.rejects(pending.commit());
  });
}
