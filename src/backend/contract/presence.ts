/**
 * Contract tests of `Presence` (src/backend/types.ts): a user with several
 * handles counts once; watchers see join then leave.
 *
 * @module
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { PresenceChange } from "../types.js";
import { ada, bob, type ContractContext } from "./helpers.js";

/**
 * Registers the Presence tests in the current `describe`.
 *
 * @example
 * describe("x contract", () => { presenceContract(ctx); });
 */
export function presenceContract(ctx: ContractContext): void {
  it("presence lists a user with two handles once, and watchers see join then leave", async () => {
    const { backend } = ctx;
    const r = ctx.newRoom();
    const changes: PresenceChange[] = [];
    const watch = await backend.presence.watch(r, (c) => changes.push(c));
    const h1 = await backend.presence.join(r, ada);
    const h2 = await backend.presence.join(r, ada);
    const hb = await backend.presence.join(r, bob);
    assert.deepEqual(
      (await backend.presence.list(r)).map((u) => u.id),
      ["ada", "bob"],
    );
    await h1.leave();
    await h1.leave();
    assert.deepEqual(
      (await backend.presence.list(r)).map((u) => u.id),
      ["ada", "bob"],
    );
    await h2.leave();
    assert.deepEqual(await backend.presence.list(r), [bob]);
    watch.close();
    await hb.leave();
    assert.deepEqual(await backend.presence.list(r), []);
    assert.deepEqual(
      changes.map((c) => `${c.room}:${c.kind}:${c.user.id}`),
      [`${r}:join:ada`, `${r}:join:bob`, `${r}:leave:ada`],
    );
    assert.deepEqual(changes[0]!.user, ada);
  });
}
