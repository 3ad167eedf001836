/**
 * The real server (startTestServer) on one port: every protocol and HTTP
 * version, an independent gRPC client, TLS with ALPN, authentication on
 * every protocol, and gzip.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { SignJWT } from "jose";
import { ChatService } from "../src/gen/switchboard/chat/v1/chat_pb.js";
import { startTestServer, type TestServer } from "./helpers/start-server.js";
import { createTestCertificate } from "./helpers/tls.js";

type Variant = { name: string; transport(baseUrl: string, token?: string, ca?: Buffer): Transport };
const sessions: Http2SessionManager[] = [];

function auth(token: string | undefined): Interceptor[] {
  if (token === undefined) return [];
  return [
    (next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    },
  ];
}

function h2(baseUrl: string, ca?: Buffer) {
  const m = new Http2SessionManager(baseUrl, {}, ca ? { ca } : undefined);
  sessions.push(m);
  return { httpVersion: "2" as const, sessionManager: m };
}

const variants: Variant[] = [
  {
    name: "gRPC over h2c",
    transport: (baseUrl, token, ca) =>
      createGrpcTransport({ baseUrl, ...h2(baseUrl, ca), interceptors: auth(token) }),
  },
  {
    name: "Connect over HTTP/1.1",
    transport: (baseUrl, token, ca) =>
      createConnectTransport({
        baseUrl,
        httpVersion: "1.1",
        nodeOptions: { ca, agent: false },
        interceptors: auth(token),
      }),
  },
  {
    name: "Connect over h2c",
    transport: (baseUrl, token, ca) =>
      createConnectTransport({ baseUrl, ...h2(baseUrl, ca), interceptors: auth(token) }),
  },
  {
    name: "gRPC-Web over HTTP/1.1",
    transport: (baseUrl, token, ca) =>
      createGrpcWebTransport({
        baseUrl,
        httpVersion: "1.1",
        nodeOptions: { ca, agent: false },
        interceptors: auth(token),
      }),
  },
  {
    name: "gRPC-Web over h2c",
    transport: (baseUrl, token, ca) =>
      createGrpcWebTransport({ baseUrl, ...h2(baseUrl, ca), interceptors: auth(token) }),
  },
];

const protoDir = join(import.meta.dirname, "..", "proto");

function grpcJsClient(target: string, creds = grpc.credentials.createInsecure()) {
  const def = protoLoader.loadSync("switchboard/chat/v1/chat.proto", {
    includeDirs: [protoDir],
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    switchboard: { chat: { v1: { ChatService: grpc.ServiceClientConstructor } } };
  };
  // A hostname for SNI: TLS forbids IP addresses there.
  return new pkg.switchboard.chat.v1.ChatService(target, creds, {
    "grpc.ssl_target_name_override": "localhost",
  });
}

function grpcJsSend(
  client: grpc.Client,
  token: string | undefined,
  req: object,
): Promise<{ message: { text: string; sender: { id: string } } }> {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>).send!(
      req,
      md,
      (err: unknown, res: never) => (err ? reject(err) : resolve(res)),
    );
  });
}

function expectUnauthenticated(message: string) {
  return (e: unknown) => {
    const err = ConnectError.from(e);
    assert.equal(err.code, Code.Unauthenticated, `${err.code} ${err.rawMessage}`);
    assert.equal(err.rawMessage, message);
    return true;
  };
}

describe("server protocols (cleartext)", () => {
  let ts: TestServer;
  let token: string;
  let expired: string;

  before(async () => {
    ts = await startTestServer();
    token = await ts.token({ subject: "ada", name: "Ada", rooms: ["*"] });
    const now = Math.floor(Date.now() / 1000);
    expired = await new SignJWT({ rooms: { pub: ["*"], sub: ["*"] } })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("switchboard")
      .setSubject("ada")
      .setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600)
      .sign(ts.server.secret);
  });
  after(async () => {
    for (const m of sessions.splice(0)) m.abort();
    await ts.close();
  });

  for (const v of variants) {
    it(`serves Send over ${v.name}`, async () => {
      const client = createClient(ChatService, v.transport(ts.url, token));
      const res = await client.send({ room: "lobby", text: `hello via ${v.name}` });
      assert.equal(res.message?.text, `hello via ${v.name}`);
      assert.equal(res.message?.sender?.id, "ada");
      assert.equal(res.message?.sender?.displayName, "Ada");
    });

    it(`rejects missing, malformed, wrongly signed and expired tokens over ${v.name}`, async () => {
      const call = (t?: string) =>
        createClient(ChatService, v.transport(ts.url, t)).send({ room: "lobby", text: "x" });
      await assert.rejects(call(), expectUnauthenticated("missing bearer token"));
      await assert.rejects(call("garbage"), expectUnauthenticated("invalid token"));
      const forged = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
      await assert.rejects(call(forged), expectUnauthenticated("invalid token"));
      await assert.rejects(call(expired), expectUnauthenticated("token expired"));
    });
  }

  it("serves an independent gRPC client (@grpc/grpc-js) and rejects it without a valid token", async () => {
    const client = grpcJsClient(`127.0.0.1:${ts.port}`);
    try {
      const res = await grpcJsSend(client, token, { room: "lobby", text: "from grpc-js" });
      assert.equal(res.message.text, "from grpc-js");
      assert.equal(res.message.sender.id, "ada");
      for (const [t, message] of [
        [undefined, "missing bearer token"],
        ["nope", "invalid token"],
        [expired, "token expired"],
      ] as const) {
        await assert.rejects(
          grpcJsSend(client, t, { room: "lobby", text: "x" }),
          (e: grpc.ServiceError) => {
            assert.equal(e.code, grpc.status.UNAUTHENTICATED);
            assert.equal(e.details, message);
            return true;
          },
        );
      }
    } finally {
      client.close();
    }
  });

  it("compresses a response over 1 KiB with gzip when the client accepts it (Connect, HTTP/1.1)", async () => {
    const text = "x".repeat(2048);
    const res = await rawHttp1(
      ts.port,
      "/switchboard.chat.v1.ChatService/Send",
      {
        "content-type": "application/json",
        "accept-encoding": "gzip",
        authorization: `Bearer ${token}`,
      },
      Buffer.from(JSON.stringify({ room: "lobby", text })),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-encoding"], "gzip");
    assert.ok(res.body.length < 1024, "body is compressed");
    assert.equal(JSON.parse(gunzipSync(res.body).toString()).message.text, text);
  });

  it("compresses a gRPC response over 1 KiB with gzip when the client accepts it (h2c)", async () => {
    const text = "y".repeat(2048);
    const session = http2.connect(ts.url);
    try {
      const res = await rawHttp2(
        session,
        "/switchboard.chat.v1.ChatService/Send",
        {
          "content-type": "application/grpc+json",
          "grpc-accept-encoding": "gzip",
          te: "trailers",
          authorization: `Bearer ${token}`,
        },
        envelope(Buffer.from(JSON.stringify({ room: "lobby", text }))),
      );
      assert.equal(res.headers["grpc-encoding"], "gzip");
      assert.equal(res.body[0], 1, "the message envelope is flagged compressed");
      const msg = JSON.parse(gunzipSync(res.body.subarray(5)).toString());
      assert.equal(msg.message.text, text);
      assert.equal(res.trailers["grpc-status"], "0");
    } finally {
      session.close();
    }
  });

  it("leaves responses under 1 KiB uncompressed", async () => {
    const res = await rawHttp1(
      ts.port,
      "/switchboard.chat.v1.ChatService/Send",
      {
        "content-type": "application/json",
        "accept-encoding": "gzip",
        authorization: `Bearer ${token}`,
      },
      Buffer.from(JSON.stringify({ room: "lobby", text: "short" })),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-encoding"], undefined);
    assert.equal(JSON.parse(res.body.toString()).message.text, "short");
  });

  it("accepts gzip-compressed requests (raw Connect and connect-node clients)", async () => {
    const res = await rawHttp1(
      ts.port,
      "/switchboard.chat.v1.ChatService/Send",
      {
        "content-type": "application/json",
        "content-encoding": "gzip",
        authorization: `Bearer ${token}`,
      },
      gzipSync(JSON.stringify({ room: "lobby", text: "zipped" })),
    );
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body.toString()).message.text, "zipped");
    for (const transport of [
      createGrpcTransport({
        baseUrl: ts.url,
        ...h2(ts.url),
        interceptors: auth(token),
        sendCompression: compressionGzip,
        compressMinBytes: 1,
      }),
      createConnectTransport({
        baseUrl: ts.url,
        httpVersion: "1.1",
        interceptors: auth(token),
        sendCompression: compressionGzip,
        compressMinBytes: 1,
      }),
    ]) {
      const r = await createClient(ChatService, transport).send({
        room: "lobby",
        text: "z".repeat(3000),
      });
      assert.equal(r.message?.text.length, 3000);
    }
  });
});

describe("server protocols (TLS)", () => {
  let ts: TestServer;
  let token: string;
  let dir: string;
  let ca: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "switchboard-tls-"));
    const { cert, key, ca: trusted } = await createTestCertificate(dir);
    ca = trusted;
    ts = await startTestServer({ config: { tlsCert: cert, tlsKey: key } });
    token = await ts.token({ subject: "ada", rooms: ["*"] });
  });
  after(async () => {
    for (const m of sessions.splice(0)) m.abort();
    await ts.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("has an https URL", () => {
    assert.equal(ts.url, `https://127.0.0.1:${ts.port}`);
  });

  for (const [protocol] of [["h2"], ["http/1.1"]]) {
    it(`negotiates ${protocol} by ALPN`, async () => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: ts.port,
        ca,
        ALPNProtocols: [protocol!],
      });
      await new Promise((resolve, reject) =>
        socket.once("secureConnect", resolve).once("error", reject),
      );
      assert.equal(socket.alpnProtocol, protocol);
      socket.destroy();
    });
  }

  for (const v of variants) {
    it(`serves Send over ${v.name.replace("h2c", "h2")} with TLS`, async () => {
      const client = createClient(ChatService, v.transport(ts.url, token, ca));
      assert.equal((await client.send({ room: "lobby", text: "secure" })).message?.text, "secure");
      await assert.rejects(
        createClient(ChatService, v.transport(ts.url, undefined, ca)).send({
          room: "lobby",
          text: "x",
        }),
        expectUnauthenticated("missing bearer token"),
      );
    });
  }

  it("serves @grpc/grpc-js over TLS", async () => {
    const client = grpcJsClient(`127.0.0.1:${ts.port}`, grpc.credentials.createSsl(ca));
    try {
      const res = await grpcJsSend(client, token, { room: "lobby", text: "grpc-js tls" });
      assert.equal(res.message.text, "grpc-js tls");
    } finally {
      client.close();
    }
  });

  it("refuses cleartext connections on the TLS port without crashing", async () => {
    await assert.rejects(rawHttp1(ts.port, "/", {}, Buffer.alloc(0)));
    const client = createClient(ChatService, variants[0]!.transport(ts.url, token, ca));
    assert.equal(
      (await client.send({ room: "lobby", text: "still up" })).message?.text,
      "still up",
    );
  });
});

function envelope(data: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(data.length, 1);
  return Buffer.concat([header, data]);
}

function rawHttp1(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function rawHttp2(
  session: http2.ClientHttp2Session,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":method": "POST", ":path": path, ...headers });
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on("response", (h) => {
      resHeaders = h;
    });
    req.on("trailers", (t) => {
      trailers = t;
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ headers: resHeaders, trailers, body: Buffer.concat(chunks) }));
    req.on("error", reject);
    req.end(body);
  });
}
