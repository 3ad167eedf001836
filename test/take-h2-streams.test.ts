/**
 * take-h2-streams.ts over real HTTP/2 connections: streams the taker takes
 * never reach the request listener; streams it declines, and streams it
 * hands over (after reading their body), are served by node's compat layer
 * as before; a server whose compat layer is not its only "stream" listener
 * is left alone. Also H2StreamResponse: the frames it writes look to a
 * client like the compat response's (status, headers, body, trailers).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { H2StreamResponse } from "../src/server/fast/h2-stream-response.js";
import { takeH2Streams } from "../src/server/take-h2-streams.js";

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
  trailers: Record<string, unknown>;
}

async function request(port: number, path: string, body: string): Promise<Answer> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const req = session.request({ ":method": "POST", ":path": path });
    req.end(body);
    const [headers] = (await once(req, "response")) as [http2.IncomingHttpHeaders];
    let text = "";
    let trailers: Record<string, unknown> = {};
    req.on("trailers", (t) => {
      trailers = Object.fromEntries(Object.entries(t));
    });
    req.setEncoding("utf8");
    for await (const chunk of req) text += chunk;
    const { date: _date, ...rest } = Object.fromEntries(Object.entries(headers));
    return { status: Number(headers[":status"]), headers: rest, body: text, trailers };
  } finally {
    session.close();
  }
}

async function start(server: http2.Http2Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

test("taken streams skip the request listener; declined and handed-over ones reach it", async (t) => {
  const seen: string[] = [];
  const server = http2.createServer((req, res) => {
    seen.push(req.url);
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.addTrailers({ "x-compat": "yes" });
      res.end(`compat:${body}`);
    });
  });
  assert.equal(
    takeH2Streams(server, (stream, headers, handOver) => {
      const path = headers[":path"];
      if (path === "/take") {
        const res = new H2StreamResponse(stream);
        stream.resume();
        stream.on("end", () => {
          res.writeHead(200, { "content-type": "text/plain" });
          res.addTrailers({ "x-compat": "no" });
          res.end(Buffer.from("taken"));
        });
        return true;
      }
      if (path === "/hand-over") {
        // Hand over before reading: the compat request reads the whole body.
        setImmediate(handOver);
        return true;
      }
      return false;
    }),
    true,
  );
  const port = await start(server);
  t.after(() => server.close());

  assert.deepEqual(await request(port, "/take", "abc"), {
    status: 200,
    headers: { ":status": 200, "content-type": "text/plain" },
    body: "taken",
    trailers: { "x-compat": "no" },
  });
  assert.deepEqual(await request(port, "/other", "abc"), {
    status: 200,
    headers: { ":status": 200, "content-type": "text/plain" },
    body: "compat:abc",
    trailers: { "x-compat": "yes" },
  });
  assert.equal((await request(port, "/hand-over", "xyz")).body, "compat:xyz");
  assert.deepEqual(seen, ["/other", "/hand-over"]);
});

test("H2StreamResponse: non-200 status, no trailers, writes after end refused", async (t) => {
  const server = http2.createServer(() => assert.fail("compat layer reached"));
  let lateWrite: boolean | undefined;
  takeH2Streams(server, (stream) => {
    const res = new H2StreamResponse(stream);
    stream.resume();
    res.writeHead(404, { "content-type": "application/json" });
    res.end(Buffer.from("{}"));
    lateWrite = res.write(Buffer.from("late"));
    assert.equal(res.writableEnded, true);
    return true;
  });
  const port = await start(server);
  t.after(() => server.close());
  const got = await request(port, "/x", "");
  assert.deepEqual(got, {
    status: 404,
    headers: { ":status": 404, "content-type": "application/json" },
    body: "{}",
    trailers: {},
  });
  assert.equal(lateWrite, false);
});

test("a server with another stream listener first is left to its compat layer", async (t) => {
  const server = http2.createServer((_req, res) => res.end("compat"));
  server.on("stream", () => {});
  assert.equal(
    takeH2Streams(server, () => assert.fail("offered a stream")),
    false,
  );
  const port = await start(server);
  t.after(() => server.close());
  assert.equal((await request(port, "/", "")).body, "compat");
});
