import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchPattern, matchRoom } from "../src/auth/room-pattern.js";

describe("matchRoom", () => {
  it("matches a literal pattern only against the identical whole name", () => {
    assert.equal(matchRoom(["lobby"], "lobby"), true);
    assert.equal(matchRoom(["lobby"], "lobby2"), false);
    assert.equal(matchRoom(["lobby"], "xlobby"), false);
    assert.equal(matchRoom(["lobby"], "Lobby"), false);
  });

  it("lets * match any run of characters, including none", () => {
    assert.equal(matchRoom(["team.*"], "team."), true);
    assert.equal(matchRoom(["team.*"], "team.red"), true);
    assert.equal(matchRoom(["team.*"], "team.red.blue"), true);
    assert.equal(matchRoom(["team.*"], "teams"), false);
    assert.equal(matchRoom(["*"], "anything:at@all"), true);
    assert.equal(matchRoom(["*-ops"], "eu-ops"), true);
    assert.equal(matchRoom(["a*b*c"], "aXXbYYc"), true);
    assert.equal(matchRoom(["a*b*c"], "aXXbYY"), false);
    assert.equal(matchRoom(["**"], "x"), true);
  });

  it("lets ? match exactly one character", () => {
    assert.equal(matchRoom(["room-?"], "room-1"), true);
    assert.equal(matchRoom(["room-?"], "room-"), false);
    assert.equal(matchRoom(["room-?"], "room-12"), false);
    assert.equal(matchRoom(["??"], "ab"), true);
  });

  it("treats regex metacharacters in patterns and room names literally", () => {
    assert.equal(matchRoom(["a.b"], "a.b"), true);
    assert.equal(matchRoom(["a.b"], "aXb"), false, ". is not any-character");
    assert.equal(matchRoom(["user@example.com"], "user@example.com"), true);
    assert.equal(matchRoom(["x+"], "xx"), false);
    assert.equal(matchRoom(["(a|b)"], "a"), false);
    assert.equal(matchRoom(["(a|b)"], "(a|b)"), true);
    assert.equal(matchRoom(["[ab]"], "a"), false);
    assert.equal(matchRoom(["^a$"], "^a$"), true);
    assert.equal(matchRoom(["ns:*"], "ns:chat"), true);
    assert.equal(matchRoom(["\\d"], "1"), false);
  });

  it("is true when any pattern matches and false for an empty list", () => {
    assert.equal(matchRoom(["a", "b.*"], "b.c"), true);
    assert.equal(matchRoom(["a", "b.*"], "c"), false);
    assert.equal(matchRoom([], "a"), false);
  });

  it("stays fast on patterns that make backtracking regexes explode", () => {
    const room = "a".repeat(128);
    const started = performance.now();
    assert.equal(matchPattern("*a*a*a*a*a*a*a*a*a*b", room), false);
    assert.ok(performance.now() - started < 100);
  });
});
