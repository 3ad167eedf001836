/**
 * The fan-out reference: a `ws` WebSocket server doing what Switchboard's
 * Subscribe does for one room, with JSON. Subscribers connect to
 * `/?room=<room>` and first get `{"roomState":{"room","headOffset"}}`; a
 * publisher connects to `/?publish=<room>` and sends text messages
 * `{"room","text"}`. For each, the server assigns an id, offset and time,
 * JSON-encodes the message once, sends that buffer to every subscriber of
 * the room, and acknowledges `{"ack":{"id","offset"}}` to the publisher.
 * No permessage-deflate, no persistence.
 *
 *   node --import tsx bench/servers/ws-fanout.ts
 *
 * Prints `{"ready":true,"port":N}` when listening on 127.0.0.1 (port 0);
 * exits on SIGTERM or SIGINT.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

interface Room {
  readonly subscribers: Set<WebSocket>;
  readonly epoch: string;
  offset: number;
}

const rooms = new Map<string, Room>();
const roomOf = (name: string): Room => {
  let room = rooms.get(name);
  if (room === undefined) {
    room = { subscribers: new Set(), epoch: randomUUID(), offset: 0 };
    rooms.set(name, room);
  }
  return room;
};

let nextId = 0;
const server = http.createServer((_req, res) => {
  res.writeHead(426).end();
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false });

wss.on("connection", (ws, req) => {
  ws.on("error", () => {});
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  const subscribeTo = query.get("room");
  const publishTo = query.get("publish");
  if (subscribeTo) {
    const room = roomOf(subscribeTo);
    room.subscribers.add(ws);
    ws.on("close", () => room.subscribers.delete(ws));
    ws.send(
      JSON.stringify({
        roomState: { room: subscribeTo, epoch: room.epoch, headOffset: String(room.offset) },
      }),
    );
    return;
  }
  if (!publishTo) {
    ws.close(1008, "room or publish query parameter required");
    return;
  }
  ws.on("message", (data) => {
    const { room: name, text } = JSON.parse(String(data)) as { room: string; text: string };
    const room = roomOf(name);
    const offset = ++room.offset;
    const id = `m${++nextId}`;
    const payload = Buffer.from(
      JSON.stringify({
        message: {
          id,
          room: name,
          offset: String(offset),
          epoch: room.epoch,
          sender: { id: "bench", displayName: "bench" },
          text,
          time: new Date().toISOString(),
        },
      }),
    );
    for (const subscriber of room.subscribers) subscriber.send(payload, { binary: false });
    ws.send(JSON.stringify({ ack: { id, offset: String(offset) } }));
  });
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
