/**
 * The Node limit for a unary gRPC call: a bare `node:http2` h2c server that
 * answers every stream with a valid gRPC response without decoding anything.
 * The request's body (one length-prefixed message) is sent back unchanged as
 * the response message, followed by `grpc-status: 0` trailers; EchoResponse
 * has the same wire format as EchoRequest, so this is a correct Echo.
 *
 *   node --import tsx bench/servers/raw-h2-echo.ts [--port N]
 *
 * Prints `{"ready":true,"port":N}` when listening; exits on SIGTERM.
 *
 * @module
 */

import { createServer, type ServerHttp2Stream } from "node:http2";
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({ options: { port: { type: "string", default: "0" } } });

const responseHeaders = { ":status": 200, "content-type": "application/grpc" };
const trailers = { "grpc-status": "0" };

function answer(stream: ServerHttp2Stream): void {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("end", () => {
    if (stream.destroyed) return;
    stream.respond(responseHeaders, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(trailers));
    stream.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
  stream.on("error", () => {});
}

const server = createServer();
server.on("stream", answer);
server.listen(Number(flags.port), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});

function stop(): void {
  server.close(() => process.exit(0));
  // Open sessions keep close() waiting; the load generator is done by now.
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
