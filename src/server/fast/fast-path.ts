/**
 * The fast path: unary and server-streaming calls over gRPC (HTTP/2) and
 * the Connect protocol (HTTP/1.1 and HTTP/2, binary and JSON) served
 * straight from node's request and response objects, in front of
 * connect-node's adapter. The
 * router, handlers, interceptors, request gate, context values, errors and
 * limits are the same; only the transport plumbing is leaner (see
 * docs/fast-path.md for the design and what is left to the library).
 *
 * A request takes the fast path only in its plain form: a POST to a unary
 * or server-streaming method registered without per-service options, gRPC
 * over HTTP/2 or the Connect content type for the method's kind, no
 * request compression, a valid timeout header, and a body that is exactly
 * one message within `readMaxBytes`.
 * Anything else — other methods and protocols, GET, compressed or
 * malformed bodies — goes to the library, with the body bytes already read
 * replayed, so its answers (and error messages) are the library's own.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, createContextValues } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { countWireBytes, type WireTally } from "../count-wire-bytes.js";
import { createCallRegistry } from "./call-context.js";
import { createMethodTable, type MethodTable } from "./method-table.js";
import { fastProtocol } from "./protocols.js";
import { type BodyRead, joinChunks, plainEnvelope, readBody, replayBody } from "./read-body.js";
import type { FastPathSettings } from "./settings.js";
import { serveServerStream } from "./stream-call.js";
import { serveUnary } from "./unary-call.js";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/** Inputs of {@link createFastPath}. */
export interface FastPathOptions {
  /** Effective handler options, as the router uses them (see settings.ts). */
  readonly settings: FastPathSettings;
  /**
   * The router's per-request context values (connect-node's `contextValues`
   * option), given the request's byte counts when `tally` started them.
   */
  readonly contextValues?: (req: NodeRequest, tally?: WireTally) => ContextValues;
  /**
   * Byte counts for the call observer's log line: called once per request the
   * fast path takes; the fast path adds what it reads and writes (and wraps
   * the request and response with countWireBytes when it passes a request on).
   */
  readonly tally?: (req: NodeRequest, res: NodeResponse) => WireTally | undefined;
  /** Counts the calls the fast path serves (`served`), for the server's stats. */
  readonly stats?: FastPathStats;
}

/** What the fast path counts. */
export interface FastPathStats {
  /** Calls served by the fast path (not those passed on to the library). */
  served: number;
}

/** The fast path of one server. */
export interface FastPath {
  /** Services registered here are served fast (see method-table.ts `recordingRouter`). */
  readonly table: MethodTable;
  /** Hands the router's handlers over, for requests the fast path passes on. */
  setLibraryHandlers(handlers: readonly UniversalHandler[]): void;
  /**
   * Serves the request if it is a fast-path request and returns true;
   * returns false, having touched nothing, otherwise.
   */
  handle(req: NodeRequest, res: NodeResponse): boolean;
}

/**
 * Creates the fast path.
 *
 * @example
 * const fast = createFastPath({ settings: resolveFastPathSettings(routerOptions) });
 * if (!fast.handle(req, res)) adapter(req, res);
 */
export function createFastPath(opts: FastPathOptions): FastPath {
  const s = opts.settings;
  const table = createMethodTable(s);
  const library = new Map<string, UniversalHandler>();
  const envelopeCheck = plainEnvelope(s.readMaxBytes);
  const calls = createCallRegistry(s.shutdownSignal);

  /** The library serves the request, with the body bytes read so far replayed. */
  function delegate(
    req: NodeRequest,
    res: NodeResponse,
    path: string,
    read: BodyRead,
    tally: WireTally | undefined,
  ): void {
    if (tally) {
      tally.addIn(read.bytes);
      countWireBytes(req, res, tally);
    }
    const handler = library.get(path);
    if (handler === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    const values = opts.contextValues?.(req, tally);
    // connect-node takes a defined "parsed JSON body" as the body as is, and
    // its protocol handlers read an async iterable body as bytes.
    const body = replayBody(read, req) as unknown as JsonValue;
    const uReq = universalRequestFromNodeRequest(req, res, body, values);
    handler(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        res.destroy();
      });
  }

  return {
    table,
    setLibraryHandlers(handlers) {
      library.clear();
      for (const h of handlers) library.set(h.requestPath, h);
    },
    handle(req, res) {
      if (req.method !== "POST") return false;
      const path = req.url ?? "";
      const entry = table.lookup(path);
      if (entry === undefined) return false;
      const spec = entry.spec;
      const streaming = spec.kind === "server_streaming";
      if (!streaming && spec.kind !== "unary") return false;
      const protocol = fastProtocol(req.headers, req.httpVersionMajor, streaming);
      if (protocol === undefined) return false;
      const timeoutValue = req.headers[protocol.timeoutHeader];
      let timeoutMs: number | undefined;
      if (timeoutValue !== undefined) {
        if (typeof timeoutValue !== "string") return false;
        const parsed = protocol.parseTimeout(timeoutValue, s.maxTimeoutMs);
        if (parsed.error) return false;
        timeoutMs = parsed.timeoutMs;
      }
      const authority = "authority" in req ? req.authority : req.headers.host;
      if (!authority) return false;
      const scheme = "encrypted" in req.socket && req.socket.encrypted ? "https" : "http";
      // An envelope is 5 bytes of header and at most readMaxBytes of message.
      const limit = protocol.enveloped ? s.readMaxBytes + 5 : s.readMaxBytes;
      // A Connect body announced above the limit is refused by the library before it is read.
      if (!protocol.enveloped && Number(req.headers["content-length"] ?? 0) > limit) return false;
      const check = protocol.enveloped ? envelopeCheck : undefined;
      const tally = opts.tally?.(req, res);
      void readBody(req, limit, check).then((read) => {
        const message = read.complete ? unaryMessage(read, protocol.enveloped, s, req) : undefined;
        if (message === undefined) {
          delegate(req, res, path, read, tally);
          return;
        }
        tally?.addIn(read.bytes);
        if (opts.stats) opts.stats.served++;
        const url = `${scheme}://${authority}${path}`;
        const values = opts.contextValues?.(req, tally) ?? createContextValues();
        const nodeHeaders = req.headers;
        if (spec.kind === "unary") {
          return serveUnary(
            {
              entry,
              protocol,
              req,
              res,
              message,
              nodeHeaders,
              url,
              timeoutMs,
              values,
              tally,
              calls,
            },
            s,
          );
        }
        const cache = protocol.binary ? entry.envelopes.binary : entry.envelopes.json;
        return serveServerStream(
          {
            entry,
            protocol,
            req,
            res,
            message,
            nodeHeaders,
            url,
            timeoutMs,
            values,
            tally,
            calls,
            spec,
            cache,
          },
          s,
        );
      });
      return true;
    },
  };
}

/**
 * The message bytes of a complete body in its plain form, or undefined if
 * the library should judge it: for gRPC exactly one uncompressed envelope
 * within the limit; for Connect a body within the limit whose length
 * matches any Content-Length.
 */
function unaryMessage(
  read: BodyRead,
  enveloped: boolean,
  s: FastPathSettings,
  req: NodeRequest,
): Uint8Array | undefined {
  const bytes = joinChunks(read);
  if (!enveloped) {
    const declared = req.headers["content-length"];
    if (declared !== undefined && declared !== String(bytes.byteLength)) return undefined;
    return bytes.byteLength <= s.readMaxBytes ? bytes : undefined;
  }
  if (bytes.byteLength < 5 || bytes[0] !== 0) return undefined;
  const length = bytes.readUInt32BE(1);
  if (length > s.readMaxBytes || bytes.byteLength !== 5 + length) return undefined;
  return bytes.subarray(5);
}
