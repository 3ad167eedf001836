/**
 * A client that resets an HTTP/2 stream while the server is blocked writing
 * (the peer stopped reading) must end the server's handler at once, not when
 * a deadline passes — or never, without one.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createClient, type ServiceImpl } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mintToken } from "../src/auth/tokens.js";
import { createBackend } from "../src/backend/create-backend.js";
import {
  ChatService,
  DownloadResponseSchema,
  FileInfoSchema,
} from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { defaultServerConfig } from "../src/server/config.js";
import { type SwitchboardServer, serveChatService } from "../src/server/serve.js";

const secret = new Uint8Array(randomBytes(32));
const handler = { started: 0, finished: 0 };

const service: Partial<ServiceImpl<typeof ChatService>> = {
  async *download() {
    handler.started++;
    try {
      yield create(DownloadResponseSchema, {
        payload: { case: "file", value: create(FileInfoSchema, { id: "x" }) },
      });
      const chunk = new Uint8Array(256 * 1024);
      // Endless: only the client's reset can stop it.
      for (;;) yield create(DownloadResponseSchema, { payload: { case: "chunk", value: chunk } });
    } finally {
      handler.finished++;
    }
  },
};

describe("HTTP/2 stream reset while the server waits to write", () => {
  let server: SwitchboardServer;
  before(async () => {
    const backend = await createBackend({ kind: "memory" });
    server = await serveChatService({
      config: { ...defaultServerConfig, port: 0 },
      secret,
      backend,
      service,
    });
  });
  after(() => server.close());

  it("ends the streaming handler within a second of the client's cancel", async () => {
    const token = await mintToken(secret, { subject: "u", rooms: ["*"] });
    const client = createClient(
      ChatService,
      createGrpcTransport({
        baseUrl: server.url,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      }),
    );
    const ac = new AbortController();
    const stream = client.download({ fileId: "x" }, { signal: ac.signal });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    // Stop reading long enough for the server to fill the flow-control window.
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await iterator.return?.().catch(() => {});
    const deadline = Date.now() + 1000;
    while (handler.finished < handler.started && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(handler.started, 1);
    assert.equal(handler.finished, 1, "the server handler is still running after the cancel");
  });
});
