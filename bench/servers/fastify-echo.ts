/**
 * The REST reference: Fastify over HTTP/1.1, `POST /echo-items` answering
 * the request's JSON `{"items":[...]}` unchanged. The route declares JSON
 * schemas for body and response (Fastify's recommended set-up: the body is
 * validated, the response serialized by fast-json-stringify), the typed
 * equivalent of decoding and encoding a protobuf message. Logging is off.
 * No authentication (Switchboard verifies a JWT per call; this does not).
 *
 *   node --import tsx bench/servers/fastify-echo.ts [--port N]
 *
 * Prints `{"ready":true,"port":N}` when listening; exits on SIGTERM.
 *
 * @module
 */

import { parseArgs } from "node:util";
import Fastify from "fastify";

const { values: flags } = parseArgs({ options: { port: { type: "string", default: "0" } } });

/** JSON schema of bench.proto's Item, in its JSON form (lowerCamelCase names). */
const itemSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    name: { type: "string" },
    tags: { type: "array", items: { type: "string" } },
    score: { type: "number" },
    createdAt: { type: "string" },
    active: { type: "boolean" },
  },
} as const;

const itemsSchema = {
  type: "object",
  properties: { items: { type: "array", items: itemSchema } },
} as const;

const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
app.post(
  "/echo-items",
  { schema: { body: itemsSchema, response: { 200: itemsSchema } } },
  async (request) => request.body,
);

const stopping = () => {
  void app.close().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 1_000).unref();
};
process.on("SIGTERM", stopping);
process.on("SIGINT", stopping);

await app.listen({ host: "127.0.0.1", port: Number(flags.port) });
const address = app.server.address();
const port = typeof address === "object" && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
