/**
 * The floor for fan-out over HTTP/2 in Node: plain `node:http2` (h2c)
 * doing what Switchboard's Subscribe and Send do for one room, on the same
 * gRPC wire, with no framework, auth, validation, persistence or metrics.
 * A request to `…/Subscribe` (one SubscribeRequest message) is answered with
 * gRPC response headers and a room_state, and its stream joins the room; a
 * request to `…/Send` gets an id, offset and time, its SubscribeResponse is
 * encoded and enveloped once and that buffer written to every subscriber's
 * stream of the room, then the SendResponse and `grpc-status: 0` trailers
 * answer the publisher. Any other path gets `grpc-status: 12`.
 *
 * What the `ws` reference does per delivery (one write of a pre-encoded
 * buffer), but through node's HTTP/2 stack: so the fan-out scenario shows
 * how much of Switchboard's cost per delivery is HTTP/2 itself.
 *
 *   node --import tsx bench/servers/raw-h2-fanout.ts
 *
 * Prints `{"ready":true,"port":N}` when listening on 127.0.0.1 (port 0);
 * exits on SIGTERM or SIGINT.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import http2, { type ServerHttp2Stream } from "node:http2";
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  MessageSchema,
  SendRequestSchema,
  SendResponseSchema,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { listenUntilSignal } from "../lib/listen-until-signal.js";

interface Room {
  readonly subscribers: Set<ServerHttp2Stream>;
  readonly epoch: string;
  offset: bigint;
}

const rooms = new Map<string, Room>();
const roomOf = (name: string): Room => {
  let room = rooms.get(name);
  if (room === undefined) {
    room = { subscribers: new Set(), epoch: randomUUID(), offset: 0n };
    rooms.set(name, room);
  }
  return room;
};

/** `bytes` as one gRPC message envelope (uncompressed). */
function envelope(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** Reads the request body and decodes its one message with `schema`. */
function readRequest<D extends DescMessage>(
  stream: ServerHttp2Stream,
  schema: D,
  then: (message: MessageShape<D>) => void,
): void {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("end", () => {
    const body = Buffer.concat(chunks);
    then(fromBinary(schema, body.subarray(5, 5 + body.readUInt32BE(1))));
  });
}

const responseHeaders = { ":status": 200, "content-type": "application/grpc" };
const okTrailers = { "grpc-status": "0" };
let nextId = 0;

function subscribe(stream: ServerHttp2Stream): void {
  readRequest(stream, SubscribeRequestSchema, (req) => {
    const name = req.rooms[0]?.room ?? "";
    const room = roomOf(name);
    stream.respond(responseHeaders);
    const state = create(SubscribeResponseSchema, {
      event: {
        case: "roomState",
        value: { room: name, epoch: room.epoch, headOffset: room.offset, recovered: true },
      },
    });
    stream.write(envelope(toBinary(SubscribeResponseSchema, state)));
    room.subscribers.add(stream);
    stream.on("close", () => room.subscribers.delete(stream));
  });
}

function send(stream: ServerHttp2Stream): void {
  readRequest(stream, SendRequestSchema, (req) => {
    const room = roomOf(req.room);
    room.offset += 1n;
    const message = create(MessageSchema, {
      id: `m${++nextId}`,
      room: req.room,
      offset: room.offset,
      epoch: room.epoch,
      sender: { id: "bench", displayName: "bench" },
      text: req.text,
      time: timestampFromMs(Date.now()),
    });
    const event = envelope(
      toBinary(
        SubscribeResponseSchema,
        create(SubscribeResponseSchema, { event: { case: "message", value: message } }),
      ),
    );
    for (const subscriber of room.subscribers) subscriber.write(event);
    stream.respond(responseHeaders, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(okTrailers));
    stream.end(
      envelope(
        toBinary(SendResponseSchema, create(SendResponseSchema, { message, duplicate: false })),
      ),
    );
  });
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
server.on("session", (session) => session.on("error", () => {}));
server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  const path = headers[":path"];
  if (path === "/switchboard.chat.v1.ChatService/Subscribe") subscribe(stream);
  else if (path === "/switchboard.chat.v1.ChatService/Send") send(stream);
  else {
    stream.resume();
    stream.respond({ ...responseHeaders, "grpc-status": "12" }, { endStream: true });
  }
});

listenUntilSignal(server);
