/**
 * SDK resilience over real sockets: subscriptions resume across a server
 * restart and a mid-stream cut, sends retry without double-posting, and
 * downloads resume from the bytes already received.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { mintToken } from "../src/auth/tokens.js";
import {
  ChecksumMismatchError,
  createSwitchboardClient,
  type SubscriptionEvent,
} from "../src/client/index.js";
import {
  DownloadResponseSchema,
  type Message,
  UploadRequestSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { defaultServerConfig } from "../src/server/config.js";
import { createSwitchboardServer, type SwitchboardServer } from "../src/server/create-server.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";

/** Starts a sqlite server on `dataDir`, on `port` (0: any). */
function startSqlite(dataDir: string, port = 0): Promise<SwitchboardServer> {
  return createSwitchboardServer({
    ...defaultServerConfig,
    host: "127.0.0.1",
    port,
    dataDir,
    backend: "sqlite",
    corsOrigins: [],
    shutdownGraceMs: 200,
    limits: {},
  });
}

/** Reads events until `predicate` holds for the collected messages, with a deadline. */
async function collectUntil(
  it: AsyncIterator<SubscriptionEvent>,
  seen: SubscriptionEvent[],
  done: (messages: Message[]) => boolean,
  timeoutMs = 15_000,
): Promise<Message[]> {
  const deadline = Date.now() + timeoutMs;
  const messages = () =>
    seen.flatMap((e) => (e.type === "message" ? [e.message] : ([] as Message[])));
  while (!done(messages())) {
    const left = deadline - Date.now();
    assert.ok(left > 0, `timed out; got ${messages().map((m) => m.text)}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out waiting for an event")), left);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(next.done, false, "subscription ended");
    seen.push(next.value as SubscriptionEvent);
  }
  return messages();
}

/** An interceptor that breaks the response stream of `method` after `afterMessages`, `times` times. */
function breakStream(
  method: string,
  afterMessages: number,
  times: number,
  code: Code,
): Interceptor {
  let left = times;
  return (next) => async (req) => {
    const res = await next(req);
    if (!res.stream || req.method.name !== method || left <= 0) return res;
    left--;
    const inner = res.message;
    async function* cut() {
      let n = 0;
      for await (const m of inner) {
        if (n++ === afterMessages) throw new ConnectError("injected failure", code);
        yield m;
      }
    }
    return { ...res, message: cut() };
  };
}

describe("SDK subscription resume", () => {
  it("resumes after a server restart on the same data dir and port with no gap or duplicate", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "switchboard-client-"));
    let server = await startSqlite(dataDir);
    const controller = new AbortController();
    try {
      const token = await mintToken(server.secret, { subject: "ada", rooms: ["*"] });
      const sb = createSwitchboardClient({ baseUrl: server.url, token });
      const events = sb.subscribe([{ room: "restart", from: { kind: "beginning" } }], {
        signal: controller.signal,
        backoff: { initialMs: 50, maxMs: 300 },
      });
      const it = events[Symbol.asyncIterator]();
      const seen: SubscriptionEvent[] = [];
      for (const text of ["m1", "m2", "m3"]) await sb.send("restart", text);
      await collectUntil(it, seen, (m) => m.length >= 3);

      const port = server.port;
      await server.close();
      server = await startSqlite(dataDir, port);
      // Sent right after the restart, possibly before the client reconnects.
      const sb2 = createSwitchboardClient({ baseUrl: server.url, token });
      for (const text of ["m4", "m5", "m6"]) await sb2.send("restart", text);

      const messages = await collectUntil(it, seen, (m) => m.length >= 6);
      assert.deepEqual(
        messages.map((m) => m.text),
        ["m1", "m2", "m3", "m4", "m5", "m6"],
      );
      const offsets = messages.map((m) => m.offset);
      for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! > offsets[i - 1]!);
      assert.ok(seen.some((e) => e.type === "reconnecting"));
      const resumed = seen.filter((e) => e.type === "state" && e.resumed);
      assert.ok(resumed.length >= 1);
      for (const e of resumed) if (e.type === "state") assert.equal(e.state.recovered, true);
      controller.abort();
      assert.equal((await it.next()).done, true);
    } finally {
      controller.abort();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("SDK resilience against one server", () => {
  let ts: TestServer;
  let token: string;
  before(async () => {
    ts = await startTestServer({ backend: "sqlite" });
    token = await ts.token({ subject: "ada", rooms: ["*"] });
  });
  after(() => ts?.close());

  it("resumes a subscription cut with resource_exhausted from the last offset without duplicates", async () => {
    const sb = createSwitchboardClient({
      baseUrl: ts.url,
      token,
      interceptors: [breakStream("Subscribe", 3, 1, Code.ResourceExhausted)],
    });
    for (const text of ["a", "b", "c", "d"]) await sb.send("cut", text);
    const controller = new AbortController();
    const it = sb
      .subscribe([{ room: "cut", from: { kind: "beginning" } }], {
        signal: controller.signal,
        backoff: { initialMs: 10, maxMs: 50 },
      })
      [Symbol.asyncIterator]();
    const seen: SubscriptionEvent[] = [];
    try {
      await collectUntil(it, seen, (m) => m.length >= 2);
      await sb.send("cut", "e");
      const messages = await collectUntil(it, seen, (m) => m.length >= 5);
      assert.deepEqual(
        messages.map((m) => m.text),
        ["a", "b", "c", "d", "e"],
      );
      const reconnect = seen.find((e) => e.type === "reconnecting");
      assert.ok(reconnect && reconnect.type === "reconnecting");
      assert.equal(reconnect.error.code, Code.ResourceExhausted);
    } finally {
      controller.abort();
      await it.return?.();
    }
  });

  it("stops a subscription with permission_denied instead of retrying", async () => {
    const limited = await ts.token({ subject: "bob", rooms: ["public"] });
    const sb = createSwitchboardClient({ baseUrl: ts.url, token: limited, protocol: "connect" });
    await assert.rejects(
      async () => {
        for await (const _ of sb.subscribe([{ room: "secret" }])) {
          // never reached
        }
      },
      (err: unknown) => err instanceof ConnectError && err.code === Code.PermissionDenied,
    );
  });

  it("retries a send whose response was lost with the same client_message_id, storing it once", async () => {
    let attempts = 0;
    const ids: string[] = [];
    const loseFirstResponse: Interceptor = (next) => async (req) => {
      if (req.method.name !== "Send") return next(req);
      attempts++;
      const res = await next(req);
      if (!res.stream) ids.push((res.message as { message?: Message }).message!.clientMessageId);
      if (attempts === 1) throw new ConnectError("connection lost", Code.Unavailable);
      return res;
    };
    const sb = createSwitchboardClient({
      baseUrl: ts.url,
      token,
      interceptors: [loseFirstResponse],
    });
    const retries: number[] = [];
    const res = await sb.send("retry", "only once", {
      backoff: { initialMs: 10 },
      onRetry: ({ attempt }) => retries.push(attempt),
    });
    assert.equal(attempts, 2);
    assert.deepEqual(retries, [1]);
    assert.equal(res.duplicate, true);
    assert.equal(ids.length, 2);
    assert.equal(ids[0], ids[1]);
    assert.match(ids[0]!, /^[0-9a-f-]{36}$/);
    const page = await sb.history("retry");
    assert.deepEqual(
      page.messages.map((m) => m.text),
      ["only once"],
    );
  });

  it("does not retry a send rejected with invalid_argument", async () => {
    let attempts = 0;
    const count: Interceptor = (next) => async (req) => {
      attempts++;
      return next(req);
    };
    const sb = createSwitchboardClient({ baseUrl: ts.url, token, interceptors: [count] });
    await assert.rejects(
      sb.send("bad room name!", "x"),
      (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
    );
    assert.equal(attempts, 1);
  });

  it("uploads in chunks of at most 256 KiB and downloads resuming from the received offset", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const sha256 = createHash("sha256").update(data).digest("hex");
    const chunkSizes: number[] = [];
    const measure: Interceptor = (next) => async (req) => {
      if (req.stream && req.method.name === "Upload") {
        const inner = req.message;
        async function* tap() {
          for await (const m of inner) {
            if (isMessage(m, UploadRequestSchema) && m.payload.case === "chunk") {
              chunkSizes.push(m.payload.value.length);
            }
            yield m;
          }
        }
        return next({ ...req, message: tap() });
      }
      return next(req);
    };
    let downloaded = 0;
    const countBytes: Interceptor = (next) => async (req) => {
      const res = await next(req);
      if (!res.stream || req.method.name !== "Download") return res;
      const inner = res.message;
      async function* tap() {
        for await (const m of inner) {
          if (isMessage(m, DownloadResponseSchema) && m.payload.case === "chunk") {
            downloaded += m.payload.value.length;
          }
          yield m;
        }
      }
      return { ...res, message: tap() };
    };
    const sb = createSwitchboardClient({
      baseUrl: ts.url,
      token,
      interceptors: [measure, breakStream("Download", 5, 2, Code.Unavailable), countBytes],
    });
    const progress: number[] = [];
    const file = await sb.upload(
      { name: "blob.bin", size: data.length, room: "files" },
      [data.subarray(0, 100), data.subarray(100)],
      { onProgress: (n) => progress.push(n) },
    );
    assert.equal(file.sha256, sha256);
    assert.equal(file.size, BigInt(data.length));
    assert.ok(chunkSizes.every((n) => n <= 256 * 1024));
    assert.equal(
      chunkSizes.reduce((a, b) => a + b, 0),
      data.length,
    );
    assert.equal(progress.at(-1), data.length);

    const retries: number[] = [];
    const parts: Uint8Array[] = [];
    const info = await sb.download(file.id, (c) => void parts.push(c), {
      backoff: { initialMs: 10 },
      onRetry: ({ offset }) => retries.push(offset),
    });
    assert.equal(info.sha256, sha256);
    assert.equal(retries.length, 2);
    assert.ok(retries[0]! > 0 && retries[1]! > retries[0]!);
    // Each byte crossed the wire once (plus at most the chunk cut at each failure).
    assert.ok(downloaded <= data.length + 2 * 1024 * 1024, `downloaded ${downloaded}`);
    const got = Buffer.concat(parts);
    assert.equal(createHash("sha256").update(got).digest("hex"), sha256);
  });

  it("downloads to a file from an explicit offset after a partial earlier run and verifies sha256", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-dl-"));
    try {
      const data = randomBytes(700_000);
      const src = join(dir, "src.bin");
      await writeFile(src, data);
      const sb = createSwitchboardClient({ baseUrl: ts.url, token, protocol: "grpc-web" });
      const file = await sb.uploadFile(src);
      assert.equal(file.name, "src.bin");
      // A previous run left the first 300000 bytes.
      const out = join(dir, "out.bin");
      await writeFile(`${out}.part`, data.subarray(0, 300_000));
      let firstProgress: number | undefined;
      const res = await sb.downloadFile(file.id, out, {
        onProgress: (n) => {
          firstProgress ??= n;
        },
      });
      assert.ok(firstProgress! > 300_000);
      assert.equal(res.sha256, file.sha256);
      assert.deepEqual(await readFile(out), data);
      assert.deepEqual(await readdir(dir), ["out.bin", "src.bin"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("starts over when a leftover partial file is longer than the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-dl-"));
    try {
      const sb = createSwitchboardClient({ baseUrl: ts.url, token });
      const file = await sb.upload({ name: "y.txt" }, [new TextEncoder().encode("short")]);
      const out = join(dir, "y.txt");
      await writeFile(`${out}.part`, "something much longer than the file");
      const res = await sb.downloadFile(file.id, out);
      assert.equal(res.sha256, file.sha256);
      assert.equal(await readFile(out, "utf8"), "short");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails a download whose bytes do not match the sha256 and removes the partial file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchboard-dl-"));
    try {
      const sb = createSwitchboardClient({ baseUrl: ts.url, token });
      const file = await sb.upload({ name: "x.txt" }, [new TextEncoder().encode("hello world")]);
      const out = join(dir, "x.txt");
      await writeFile(`${out}.part`, "HELLO");
      await assert.rejects(sb.downloadFile(file.id, out), ChecksumMismatchError);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
