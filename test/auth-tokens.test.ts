import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { base64url, SignJWT, UnsecuredJWT } from "jose";
import { mintToken, TokenError, verifyToken } from "../src/auth/tokens.js";

const secret = new Uint8Array(randomBytes(32));
const now = () => Math.floor(Date.now() / 1000);

async function rejects(token: Promise<string> | string, reason: TokenError["reason"]) {
  await assert.rejects(verifyToken(secret, await token), (e: unknown) => {
    assert.ok(e instanceof TokenError, `expected TokenError, got ${String(e)}`);
    assert.equal(e.name, "TokenError");
    assert.equal(e.reason, reason);
    return true;
  });
}

function signRaw(payload: Record<string, unknown>, alg = "HS256", key: Uint8Array = secret) {
  return new SignJWT(payload).setProtectedHeader({ alg }).sign(key);
}

describe("tokens", () => {
  it("round-trips subject, name and room permissions", async () => {
    const token = await mintToken(secret, {
      subject: "ada",
      name: "Ada L.",
      publish: ["team.*"],
      subscribe: ["news"],
      rooms: ["lobby"],
    });
    const user = await verifyToken(secret, token);
    assert.deepEqual(user, {
      id: "ada",
      name: "Ada L.",
      publish: ["lobby", "team.*"],
      subscribe: ["lobby", "news"],
    });
  });

  it("uses the subject as name and grants nothing when no rooms are given", async () => {
    const user = await verifyToken(secret, await mintToken(secret, { subject: "bob" }));
    assert.deepEqual(user, { id: "bob", name: "bob", publish: [], subscribe: [] });
  });

  it("writes iss switchboard, HS256, iat, exp (default one day) and the rooms claim", async () => {
    const token = await mintToken(secret, { subject: "ada", rooms: ["x"] });
    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(new TextDecoder().decode(base64url.decode(p))));
    assert.equal(header.alg, "HS256");
    assert.equal(payload.iss, "switchboard");
    assert.equal(payload.sub, "ada");
    assert.deepEqual(payload.rooms, { pub: ["x"], sub: ["x"] });
    assert.equal(payload.exp - payload.iat, 86_400);
  });

  it("rejects an expired token with reason expired", async () => {
    const expired = await signRaw({
      sub: "ada",
      iss: "switchboard",
      iat: now() - 100,
      exp: now() - 60,
    });
    await rejects(expired, "expired");
  });

  it("accepts a just-expired token within the clock tolerance", async () => {
    const token = await signRaw({
      sub: "ada",
      iss: "switchboard",
      iat: now() - 100,
      exp: now() - 2,
    });
    const user = await verifyToken(secret, token, { clockToleranceSec: 10 });
    assert.equal(user.id, "ada");
    await assert.rejects(verifyToken(secret, token, { clockToleranceSec: 0 }), TokenError);
  });

  it("rejects a token before its nbf with reason not_yet_valid", async () => {
    await rejects(mintToken(secret, { subject: "ada", notBefore: now() + 3600 }), "not_yet_valid");
    const ok = await mintToken(secret, { subject: "ada", notBefore: now() - 1 });
    assert.equal((await verifyToken(secret, ok)).id, "ada");
  });

  it("rejects a token signed with another secret", async () => {
    const other = new Uint8Array(randomBytes(32));
    await rejects(mintToken(other, { subject: "ada" }), "invalid");
  });

  it("rejects alg none and algorithms other than HS256", async () => {
    const unsecured = new UnsecuredJWT({ sub: "ada", iss: "switchboard" })
      .setExpirationTime(now() + 60)
      .encode();
    await rejects(unsecured, "invalid");
    const hs512 = await signRaw(
      { sub: "ada", iss: "switchboard", exp: now() + 60 },
      "HS512",
      new Uint8Array(randomBytes(64)),
    );
    await rejects(hs512, "invalid");
    const hs384 = await signRaw({ sub: "ada", iss: "switchboard", exp: now() + 60 }, "HS384");
    await rejects(hs384, "invalid");
  });

  it("rejects tokens missing exp, sub or the switchboard issuer", async () => {
    await rejects(signRaw({ sub: "ada", iss: "switchboard" }), "invalid");
    await rejects(signRaw({ iss: "switchboard", exp: now() + 60 }), "invalid");
    await rejects(signRaw({ sub: "ada", exp: now() + 60 }), "invalid");
    await rejects(signRaw({ sub: "ada", iss: "other", exp: now() + 60 }), "invalid");
    await rejects(signRaw({ sub: "", iss: "switchboard", exp: now() + 60 }), "invalid");
  });

  it("rejects malformed room claims and garbage", async () => {
    const base = { sub: "ada", iss: "switchboard", exp: now() + 60 };
    await rejects(signRaw({ ...base, rooms: "lobby" }), "invalid");
    await rejects(signRaw({ ...base, rooms: { pub: [1] } }), "invalid");
    await rejects(signRaw({ ...base, name: 42 }), "invalid");
    await rejects("not-a-jwt", "invalid");
    await rejects("", "invalid");
  });

  it("refuses secrets shorter than 32 bytes and empty subjects when minting", async () => {
    await assert.rejects(mintToken(new Uint8Array(31), { subject: "ada" }), RangeError);
    await assert.rejects(mintToken(secret, { subject: "" }), RangeError);
    await assert.rejects(mintToken(secret, { subject: "ada", ttlSeconds: 0 }), RangeError);
  });
});
