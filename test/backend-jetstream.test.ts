/**
 * The backend contract suite against the JetStream backend on a real
 * nats-server (SWITCHBOARD_TEST_NATS_URL, else 127.0.0.1:4222, else a private
 * one: see test/helpers/nats.ts `testNats`). Each contract
 * "directory" maps to its own prefix (stream and buckets), so reopening on
 * the same directory is a new node on the same data; everything is deleted
 * afterwards. Without a reachable NATS these tests fail (never skip).
 */
import { after, before } from "node:test";
import { runBackendContract } from "../src/backend/contract/index.js";
import { createBackend } from "../src/backend/create-backend.js";
import { deleteJetStreamData } from "../src/backend/jetstream/index.js";
import { type TestNats, testNats } from "./helpers/nats.js";

let nats: TestNats | undefined;
let servers = "";
before(async () => {
  nats = await testNats();
  servers = nats.url;
});
const run = `sbt_${process.pid}_${Date.now().toString(36)}`;
const prefixes = new Map<string, string>();

function prefixFor(dir: string): string {
  let prefix = prefixes.get(dir);
  if (!prefix) {
    prefix = `${run}_${prefixes.size}`;
    prefixes.set(dir, prefix);
  }
  return prefix;
}

runBackendContract(
  "jetstream backend",
  (dir) => createBackend({ kind: "jetstream", servers, prefix: prefixFor(dir) }),
  { durable: true },
);

after(async () => {
  try {
    if (servers)
      for (const prefix of prefixes.values()) await deleteJetStreamData({ servers, prefix });
  } finally {
    await nats?.stop();
  }
});
