/**
 * The floor for idle server streams in Node: plain `node:http2` (h2c) that
 * answers every request with gRPC response headers and one gRPC message (a
 * SubscribeResponse room_state, encoded once), then keeps the stream open
 * forever — what an idle Subscribe stream costs without any framework,
 * service or backend state. Up to 100 concurrent streams per connection,
 * like Switchboard's default.
 *
 *   node --import tsx bench/servers/raw-h2-idle.ts
 *
 * Prints `{"ready":true,"port":N}` when listening on 127.0.0.1 (port 0);
 * exits on SIGTERM or SIGINT.
 *
 * @module
 */
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { SubscribeResponseSchema } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { listenUntilSignal } from "../lib/listen-until-signal.js";

const event = toBinary(
  SubscribeResponseSchema,
  create(SubscribeResponseSchema, {
    event: {
      case: "roomState",
      value: { room: "idle", epoch: "raw", headOffset: 0n, recovered: true },
    },
  }),
);
const envelope = Buffer.alloc(5 + event.length);
envelope.writeUInt32BE(event.length, 1);
envelope.set(event, 5);

const server = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
server.on("session", (session) => session.on("error", () => {}));
server.on("stream", (stream) => {
  stream.on("error", () => {});
  stream.resume();
  stream.respond({ ":status": 200, "content-type": "application/grpc" });
  stream.write(envelope);
});

listenUntilSignal(server);
