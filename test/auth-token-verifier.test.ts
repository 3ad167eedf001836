/**
 * The caching token verifier: same answers as verifyToken, expiry checked
 * on every hit, only successes cached, bounded, users frozen.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { createTokenVerifier } from "../src/auth/token-verifier.js";
import { mintToken, TokenError } from "../src/auth/tokens.js";

const secret = new Uint8Array(randomBytes(32));

test("a verified token is answered from the cache with the same frozen user", async () => {
  const verify = createTokenVerifier(secret);
  const token = await mintToken(secret, { subject: "ada", rooms: ["lobby"] });
  const first = await verify(token);
  const second = await verify(token);
  assert.equal(first, second);
  assert.equal(first.id, "ada");
  assert.deepEqual(first.publish, ["lobby"]);
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.publish));
});

test("a cached token fails with 'token expired' once its exp passes (tolerance included)", async () => {
  let clock = Date.now();
  const verify = createTokenVerifier(secret, { now: () => clock, clockToleranceSec: 5 });
  const token = await mintToken(secret, { subject: "ada", ttlSeconds: 60 });
  await verify(token);
  clock += 62_000; // past exp, within tolerance
  assert.equal((await verify(token)).id, "ada");
  clock += 5_000;
  await assert.rejects(verify(token), (e) => e instanceof TokenError && e.reason === "expired");
});

test("failures are not cached, and a token signed with another secret stays invalid", async () => {
  const verify = createTokenVerifier(secret);
  const other = await mintToken(new Uint8Array(randomBytes(32)), { subject: "eve" });
  for (let i = 0; i < 2; i++) {
    await assert.rejects(verify(other), (e) => e instanceof TokenError && e.reason === "invalid");
  }
  const notYet = await mintToken(secret, {
    subject: "bob",
    notBefore: Math.floor(Date.now() / 1000) + 3600,
  });
  await assert.rejects(
    verify(notYet),
    (e) => e instanceof TokenError && e.reason === "not_yet_valid",
  );
  await assert.rejects(verify(`${(await mintToken(secret, { subject: "x" })).slice(0, -2)}AA`));
});

test("the cache is bounded: the oldest token is verified again after eviction", async () => {
  const verify = createTokenVerifier(secret, { maxEntries: 2 });
  const [a, b, c] = await Promise.all(
    ["a", "b", "c"].map((subject) => mintToken(secret, { subject })),
  );
  const userA = await verify(a!);
  await verify(b!);
  await verify(c!); // evicts a
  const again = await verify(a!);
  assert.notEqual(again, userA, "a was verified anew, not served from the cache");
  assert.equal(again.id, "a");
});

test("a secret shorter than 32 bytes is refused", () => {
  assert.throws(() => createTokenVerifier(new Uint8Array(16)), RangeError);
});
