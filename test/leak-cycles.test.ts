/**
 * Leak checks over real sockets, measured with the server's own counters
 * (`server.stats()`), the process's open file descriptors, the data
 * directory and the heap: 1,000 subscribe/cancel cycles and 1,000 aborted
 * uploads leave nothing behind.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createBearerInterceptor } from "../src/client/bearer-interceptor.js";
import type { ChatClient } from "../src/client/chat-client.js";
import {
  ChatService,
  type UploadRequest,
  UploadRequestSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MiB = 1024 * 1024;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function openFds(): Promise<number> {
  return (await readdir("/proc/self/fd")).length;
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Each cancelled call resets its HTTP/2 stream. Node's HTTP/2 server closes a
 * connection whose client resets streams faster than about 1,000 at once plus
 * 33 per second (the "rapid reset" protection), so the cycles use a fresh
 * connection every 200 calls, closing the old one.
 */
const callsPerConnection = 200;

describe("leaks", () => {
  let ts: TestServer;
  let token: string;
  let manager: Http2SessionManager | undefined;
  let rpc: ChatClient;
  let calls = 0;
  const connection = (): ChatClient => {
    if (manager === undefined || calls++ % callsPerConnection === 0) {
      manager?.abort();
      manager = new Http2SessionManager(ts.url);
      rpc = createClient(
        ChatService,
        createGrpcTransport({
          baseUrl: ts.url,
          sessionManager: manager,
          interceptors: [createBearerInterceptor(token)],
        }),
      );
    }
    return rpc;
  };
  before(async () => {
    ts = await startTestServer({ backend: "sqlite" });
    token = await ts.token({ subject: "leak", rooms: ["*"] });
    await connection().send({ room: "leak", text: "warm up" });
  });
  after(async () => {
    manager?.abort();
    await ts?.close();
  });

  async function subscribeCycle(i: number): Promise<void> {
    const ac = new AbortController();
    const it = connection()
      .subscribe({ rooms: [{ room: `leak-${i % 7}` }, { room: "leak" }] }, { signal: ac.signal })
      [Symbol.asyncIterator]();
    // Half are cancelled once running, half right away.
    if (i % 2 === 0) await it.next();
    ac.abort();
    await it.next().catch(() => undefined);
  }

  async function abortedUpload(i: number): Promise<void> {
    const ac = new AbortController();
    const chunk = new Uint8Array(32 * 1024).fill(i % 256);
    async function* frames(): AsyncGenerator<UploadRequest> {
      // The declared size (as the SDK sends it) makes a cut-short upload
      // fail even if the server took the cancel for a half-close.
      yield create(UploadRequestSchema, {
        payload: { case: "metadata", value: { name: `f${i}.bin`, room: "leak", size: 1n << 20n } },
      });
      yield create(UploadRequestSchema, { payload: { case: "chunk", value: chunk } });
      // Give the server time to open the upload, then abort mid-stream.
      await new Promise((r) => setTimeout(r, i % 3));
      ac.abort();
      await new Promise(() => {});
    }
    await connection()
      .upload(frames(), { signal: ac.signal })
      .catch(() => undefined);
  }

  it("1,000 subscribe/cancel cycles leave no stream, subscription, descriptor or heap behind", async () => {
    for (let i = 0; i < 50; i++) await subscribeCycle(i);
    await waitUntil("warm-up released", () => ts.server.stats().activeStreams === 0);
    const fdsBefore = await openFds();
    const heapBefore = heapUsed();
    let peakSubscriptions = 0;
    for (let i = 0; i < 1_000; i++) {
      await subscribeCycle(i);
      peakSubscriptions = Math.max(peakSubscriptions, ts.server.stats().activeSubscriptions);
    }
    await waitUntil("every stream released", () => {
      const s = ts.server.stats();
      return s.activeStreams === 0 && s.activeSubscriptions === 0;
    });
    assert.ok(peakSubscriptions >= 1, "the cycles did open subscriptions");
    const stats = ts.server.stats();
    assert.equal(stats.activeSubscriptions, 0);
    assert.equal(stats.activeStreams, 0);
    assert.ok(stats.openConnections <= 1, `connections: ${stats.openConnections}`);
    const fdsAfter = await openFds();
    assert.ok(fdsAfter <= fdsBefore + 4, `fds ${fdsBefore} -> ${fdsAfter}`);
    const growth = heapUsed() - heapBefore;
    assert.ok(growth < 8 * MiB, `heap grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  it("1,000 aborted uploads leave no open upload, temp file, stored file, descriptor or heap behind", async () => {
    for (let i = 0; i < 20; i++) await abortedUpload(i);
    await waitUntil("warm-up released", () => ts.server.stats().openUploads === 0);
    const fdsBefore = await openFds();
    const heapBefore = heapUsed();
    let peakUploads = 0;
    for (let i = 0; i < 1_000; i++) {
      await abortedUpload(i);
      peakUploads = Math.max(peakUploads, ts.server.stats().openUploads);
    }
    await waitUntil("every upload released", () => {
      const s = ts.server.stats();
      return s.openUploads === 0 && s.activeStreams === 0;
    });
    assert.ok(peakUploads >= 1, "the uploads did reach the blob store");
    // An abort counts the upload as closed at once and removes its temp file
    // a moment later: it must be gone within a bounded time.
    const tmp = join(ts.dataDir, "tmp");
    let left = await readdir(tmp);
    for (const deadline = Date.now() + 5_000; left.length > 0 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      left = await readdir(tmp);
    }
    assert.deepEqual(left, [], "no temp file");
    assert.deepEqual(await readdir(join(ts.dataDir, "files")), [], "no stored file");
    const fdsAfter = await openFds();
    assert.ok(fdsAfter <= fdsBefore + 4, `fds ${fdsBefore} -> ${fdsAfter}`);
    const growth = heapUsed() - heapBefore;
    assert.ok(growth < 8 * MiB, `heap grew by ${(growth / MiB).toFixed(1)} MiB`);
  });
});
