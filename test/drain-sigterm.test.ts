/**
 * Graceful drain of a real `switchboard serve` process on SIGTERM and SIGINT:
 * new connections are refused, open HTTP/2 connections get GOAWAY, the
 * in-flight unary Send completes, streams end with Unavailable and the
 * last delivered offsets, the store is closed with everything acknowledged
 * in it, and the process exits 0 within the grace period.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { mintToken } from "../src/auth/tokens.js";
import { createBackend } from "../src/backend/create-backend.js";
import { createSwitchboardClient } from "../src/client/index.js";
import { SendRequestSchema, SendResponseSchema } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { cliEnv, type LiveCli, spawnCli } from "./helpers/cli.js";
import { connectH2, decodeFrames, encodeFrame, rawCall } from "./helpers/raw-h2.js";

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}

describe("graceful drain of `switchboard serve`", () => {
  const children: LiveCli[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill("SIGKILL");
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`on ${signal}: refuses new connections, finishes the in-flight Send, ends streams with resume offsets, loses nothing acknowledged, exits 0 within the grace`, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "switchboard-drain-"));
      dirs.push(dataDir);
      const secret = randomBytes(32).toString("hex");
      const graceMs = 4_000;
      const cli = spawnCli(
        [
          "serve",
          "--port",
          "0",
          "--backend",
          "sqlite",
          "--data-dir",
          dataDir,
          "--jwt-secret",
          secret,
          "--shutdown-grace-ms",
          String(graceMs),
        ],
        { env: cliEnv(), timeoutMs: 60_000 },
      );
      children.push(cli);
      await cli.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cli.output.stdout)![1]!;
      const port = Number(new URL(url).port);
      const token = await mintToken(new TextEncoder().encode(secret), {
        subject: "drain",
        rooms: ["*"],
      });
      const room = `drain-${signal}`;
      const sb = createSwitchboardClient({ baseUrl: url, token });

      // A subscriber mid-stream.
      const received: bigint[] = [];
      const streamEnd = (async () => {
        try {
          for await (const res of sb.rpc.subscribe({ rooms: [{ room }] })) {
            if (res.event.case === "message") received.push(res.event.value.offset);
          }
          return undefined;
        } catch (e) {
          return ConnectError.from(e);
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      const acked: bigint[] = [];
      for (let i = 0; i < 20; i++) {
        acked.push((await sb.rpc.send({ room, text: `m${i}` })).message?.offset ?? 0n);
      }
      while (received.length < acked.length) await new Promise((r) => setTimeout(r, 10));

      // A unary Send mid-flight: headers sent, body not yet.
      const session = connectH2(url);
      const inflight = rawCall(session, "Send", token, undefined);
      await new Promise((r) => setTimeout(r, 200));
      const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));

      const started = Date.now();
      cli.child.kill(signal);
      await goaway;
      const streamError = await streamEnd;
      assert.ok(streamError, "the stream ended with an error");
      assert.equal(streamError.code, Code.Unavailable);
      assert.equal(
        streamError.metadata.get("switchboard-resume-offsets"),
        `${room}=${acked.at(-1)}`,
      );
      assert.ok(await refused(port), "a new connection is refused while draining");

      inflight.stream.end(
        encodeFrame(SendRequestSchema, create(SendRequestSchema, { room, text: "in flight" })),
      );
      const done = await inflight.done;
      assert.equal(done.trailers["grpc-status"], "0", String(done.trailers["grpc-message"]));
      const [sent] = decodeFrames(SendResponseSchema, done.body);
      assert.ok(sent?.message, "the in-flight Send was answered");
      acked.push(sent.message.offset);
      session.destroy();

      const exit = await cli.exited;
      const took = Date.now() - started;
      assert.equal(exit.code, 0, exit.stderr);
      assert.ok(took < graceMs + 2_000, `exited after ${took} ms (grace ${graceMs})`);
      assert.match(exit.stderr, /shutting down/);

      // Everything acknowledged is in the store.
      const backend = await createBackend({ kind: "sqlite", dataDir });
      try {
        const page = await backend.log.read(room, {
          direction: "forward",
          offset: 0n,
          limit: 100,
        });
        assert.deepEqual(
          page.messages.map((m) => m.offset),
          acked,
        );
        assert.equal(page.messages.at(-1)?.text, "in flight");
      } finally {
        await backend.close();
      }
    });
  }
});
