/**
 * The one-port listener: protocol sniffing and robustness against bad input.
 */
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { http2Preface, type Listener, listen } from "../src/server/listen.js";

describe("listener", () => {
  let listener: Listener;
  let base: string;

  before(async () => {
    listener = await listen({
      host: "127.0.0.1",
      port: 0,
      sniffTimeoutMs: 300,
      handler: (req, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`HTTP/${req.httpVersion}`);
      },
    });
    base = `http://127.0.0.1:${listener.port}`;
  });
  after(() => listener.close());

  it("serves HTTP/1.1 requests", async () => {
    assert.equal(await get1(base), "HTTP/1.1");
  });

  it("serves h2c with prior knowledge on the same port", async () => {
    assert.equal(await get2(base), "HTTP/2.0");
  });

  it("recognises a preface that arrives one byte at a time", async () => {
    const socket = await connect(listener.port);
    for (const byte of http2Preface) {
      socket.write(Buffer.from([byte]));
      await delay(2);
    }
    // The server speaks HTTP/2 now: its first frame is SETTINGS (type 4).
    const frame = await readBytes(socket, 9);
    assert.equal(frame[3], 4);
    socket.destroy();
    assert.equal(await get2(base), "HTTP/2.0");
  });

  it("answers HTTP/1.1 garbage with 400 and keeps serving", async () => {
    const reply = await exchange(
      listener.port,
      Buffer.from("\x00\x01\xffNOT HTTP AT ALL\r\n\r\n", "latin1"),
    );
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.equal(await get1(base), "HTTP/1.1");
    assert.equal(await get2(base), "HTTP/2.0");
  });

  it("drops a truncated preface followed by end of stream and keeps serving", async () => {
    const reply = await exchange(listener.port, http2Preface.subarray(0, 10));
    assert.equal(reply, "");
    assert.equal(await get2(base), "HTTP/2.0");
  });

  it("drops a connection that stalls inside the preface after the sniff timeout", async () => {
    const socket = await connect(listener.port);
    socket.write(http2Preface.subarray(0, 5));
    const started = Date.now();
    await new Promise((resolve) => socket.once("close", resolve));
    assert.ok(Date.now() - started < 2000);
    assert.equal(await get1(base), "HTTP/1.1");
  });

  it("survives a valid preface followed by garbage frames", async () => {
    const reply = await exchange(
      listener.port,
      Buffer.concat([
        http2Preface,
        Buffer.from("\xff\xff\xff\xff\xff\xff\xff\xff\xff garbage", "latin1"),
      ]),
    );
    assert.equal(typeof reply, "string");
    assert.equal(await get2(base), "HTTP/2.0");
  });

  it("survives clients that reset right after connecting or mid-request", async () => {
    for (let i = 0; i < 5; i++) {
      const a = await connect(listener.port);
      a.resetAndDestroy();
      const b = await connect(listener.port);
      b.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
      await delay(5);
      b.resetAndDestroy();
      const c = await connect(listener.port);
      c.write(http2Preface);
      await delay(5);
      c.resetAndDestroy();
    }
    assert.equal(await get1(base), "HTTP/1.1");
    assert.equal(await get2(base), "HTTP/2.0");
  });

  it("closes with idle connections still open", async () => {
    const other = await listen({ host: "127.0.0.1", port: 0, handler: (_q, s) => s.end("ok") });
    const url = `http://127.0.0.1:${other.port}`;
    const session = http2.connect(url);
    session.on("error", () => {});
    await new Promise((resolve) =>
      session.request({ ":path": "/" }).on("response", resolve).resume(),
    );
    const idle = await connect(other.port);
    idle.on("error", () => {});
    await other.close();
    await other.close();
    await assert.rejects(get1(url));
    session.destroy();
  });
});

function delay(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
}

function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= n) {
        socket.off("data", onData);
        resolve(got);
      }
    };
    socket.on("data", onData);
  });
}

/** Writes bytes, half-closes, and collects everything until the server closes. */
async function exchange(port: number, bytes: Buffer): Promise<string> {
  const socket = await connect(port);
  socket.on("error", () => {});
  return new Promise((resolve) => {
    let got = "";
    socket.setEncoding("latin1");
    socket.on("data", (c) => {
      got += c;
    });
    socket.on("close", () => resolve(got));
    socket.end(bytes);
  });
}

function get1(base: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(base, { agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
}

function get2(base: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base);
    session.on("error", reject);
    const req = session.request({ ":path": "/" });
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      session.close();
      resolve(body);
    });
    req.on("error", reject);
  });
}
