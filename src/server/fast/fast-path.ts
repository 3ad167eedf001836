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

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from "node:http2";
import type { Readable } from "node:stream";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, createContextValues } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { countWireBytes, type WireTally } from "../count-wire-bytes.js";
import { createCallRegistry } from "./call-context.js";
import { type FastRequest, type FastResponse, H2StreamResponse } from "./h2-stream-response.js";
import { createMethodTable, type FastMethod, type MethodTable } from "./method-table.js";
import { type FastProtocol, fastProtocol } from "./protocols.js";
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
  readonly contextValues?: (req: FastRequest, tally?: WireTally) => ContextValues;
  /**
   * Byte counts for the call observer's log line: called once per request the
   * fast path takes; the fast path adds what it reads and writes (and wraps
   * the request and response with countWireBytes when it passes a request on).
   */
  readonly tally?: (req: FastRequest, res: FastResponse) => WireTally | undefined;
  /** Counts the calls the fast path serves (`served`), for the server's stats. */
  readonly stats?: FastPathStats;
}

/** What the fast path counts. */
export interface FastPathStats {
  /** Calls served by the fast path (not those passed on to the library). */
  served: number;
  /** Of those, calls served straight from the HTTP/2 stream (handleStream), without node's compat objects. */
  fromStreams: number;
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
  /**
   * The same for an HTTP/2 stream before node's compat layer wraps it
   * (take-h2-streams.ts): serves it and returns true, or returns false,
   * having touched nothing. A taken stream whose body turns out irregular
   * is given back with `handOver`; its compat request then reaches
   * {@link FastPath.handle}, which passes it, with the bytes read, to the
   * library.
   */
  handleStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    handOver: () => void,
  ): boolean;
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
  /** Streams taken by handleStream and handed over, with what was read of their bodies. */
  const handedOver = new WeakMap<ServerHttp2Stream, BodyRead>();

  /** The library serves the request, with the body bytes read so far replayed. */
  function delegate(
    req: NodeRequest,
    res: NodeResponse,
    path: string,
    read: BodyRead,
    tally: WireTally | undefined,
    source: Readable = req,
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
    const body = replayBody(read, source) as unknown as JsonValue;
    const uReq = universalRequestFromNodeRequest(req, res, body, values);
    handler(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        res.destroy();
      });
  }

  /**
   * What the fast path would do with a request, from its method, path and
   * headers; undefined when it is not a fast-path request.
   */
  function classify(
    method: string | undefined,
    path: string,
    headers: IncomingHttpHeaders,
    httpVersionMajor: number,
  ): Plan | undefined {
    if (method !== "POST") return undefined;
    const entry = table.lookup(path);
    if (entry === undefined) return undefined;
    const spec = entry.spec;
    const streaming = spec.kind === "server_streaming";
    if (!streaming && spec.kind !== "unary") return undefined;
    const protocol = fastProtocol(headers, httpVersionMajor, streaming);
    if (protocol === undefined) return undefined;
    const timeoutValue = headers[protocol.timeoutHeader];
    let timeoutMs: number | undefined;
    if (timeoutValue !== undefined) {
      if (typeof timeoutValue !== "string") return undefined;
      const parsed = protocol.parseTimeout(timeoutValue, s.maxTimeoutMs);
      if (parsed.error) return undefined;
      timeoutMs = parsed.timeoutMs;
    }
    // An envelope is 5 bytes of header and at most readMaxBytes of message.
    const limit = protocol.enveloped ? s.readMaxBytes + 5 : s.readMaxBytes;
    // A Connect body announced above the limit is refused by the library before it is read.
    if (!protocol.enveloped && Number(headers["content-length"] ?? 0) > limit) return undefined;
    return { entry, protocol, headers, timeoutMs, limit };
  }

  /** Reads the body; serves the call, or has `passOn` give it to the library. */
  function serve(
    plan: Plan,
    req: FastRequest,
    res: FastResponse,
    url: string,
    startTally: () => WireTally | undefined,
    passOn: (read: BodyRead) => void,
  ): void {
    const { entry, protocol } = plan;
    const check = protocol.enveloped ? envelopeCheck : undefined;
    const headers = plan.headers;
    void readBody(req, plan.limit, check).then((read) => {
      const message = read.complete
        ? unaryMessage(read, protocol.enveloped, s, headers)
        : undefined;
      if (message === undefined) {
        passOn(read);
        return;
      }
      const tally = startTally();
      tally?.addIn(read.bytes);
      if (opts.stats) {
        opts.stats.served++;
        if (res instanceof H2StreamResponse) opts.stats.fromStreams++;
      }
      const values = opts.contextValues?.(req, tally) ?? createContextValues();
      const spec = entry.spec;
      const timeoutMs = plan.timeoutMs;
      if (spec.kind === "unary") {
        return serveUnary(
          {
            entry,
            protocol,
            req,
            res,
            message,
            nodeHeaders: headers,
            url,
            timeoutMs,
            values,
            tally,
            calls,
          },
          s,
        );
      }
      if (spec.kind !== "server_streaming") return;
      // A literal of its own, not a spread of the unary one: V8 gave each
      // spread-and-extended object a dictionary (about 0.7 KiB per open
      // stream in a heap snapshot of 10,000 idle Subscribe streams).
      const cache = protocol.binary ? entry.envelopes.binary : entry.envelopes.json;
      return serveServerStream(
        {
          entry,
          protocol,
          req,
          res,
          message,
          nodeHeaders: headers,
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
  }

  return {
    table,
    setLibraryHandlers(handlers) {
      library.clear();
      for (const h of handlers) library.set(h.requestPath, h);
    },
    handle(req, res) {
      if ("stream" in req) {
        // A stream handleStream took and handed over: the library serves it.
        const read = handedOver.get(req.stream);
        if (read !== undefined) {
          handedOver.delete(req.stream);
          // The rest of the body is read from the stream itself: handleStream
          // paused it, and the compat request, attaching its "data" listener
          // to a paused stream, would never resume it.
          delegate(req, res, req.url ?? "", read, opts.tally?.(req, res), req.stream);
          return true;
        }
      }
      const path = req.url ?? "";
      const found = classify(req.method, path, req.headers, req.httpVersionMajor);
      if (found === undefined) return false;
      const authority = "authority" in req ? req.authority : req.headers.host;
      if (!authority) return false;
      const scheme = "encrypted" in req.socket && req.socket.encrypted ? "https" : "http";
      // Started before the body is read: the library needs it when the call is passed on.
      const tally = opts.tally?.(req, res);
      serve(
        found,
        req,
        res,
        `${scheme}://${authority}${path}`,
        () => tally,
        (read) => delegate(req, res, path, read, tally),
      );
      return true;
    },
    handleStream(stream, headers, handOver) {
      // CORS and "Expect: 100-continue" are answered on node's response objects.
      if (headers.origin !== undefined || headers.expect !== undefined) return false;
      const path = headers[":path"];
      const method = headers[":method"];
      if (typeof path !== "string" || typeof method !== "string") return false;
      const found = classify(method, path, headers, 2);
      if (found === undefined) return false;
      const authority = headers[":authority"] ?? headers.host;
      if (!authority) return false;
      const socket = stream.session?.socket;
      const scheme =
        socket !== undefined && "encrypted" in socket && socket.encrypted ? "https" : "http";
      const res = new H2StreamResponse(stream);
      serve(
        found,
        stream,
        res,
        `${scheme}://${authority}${path}`,
        () => opts.tally?.(stream, res),
        (read) => {
          if (stream.destroyed) return;
          handedOver.set(stream, read);
          handOver();
        },
      );
      return true;
    },
  };
}

/** A request the fast path takes, as {@link classify} judged it. */
interface Plan {
  readonly entry: FastMethod;
  readonly protocol: FastProtocol;
  readonly headers: IncomingHttpHeaders;
  readonly timeoutMs: number | undefined;
  /** Most body bytes to read. */
  readonly limit: number;
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
  headers: IncomingHttpHeaders,
): Uint8Array | undefined {
  const bytes = joinChunks(read);
  if (!enveloped) {
    const declared = headers["content-length"];
    if (declared !== undefined && declared !== String(bytes.byteLength)) return undefined;
    return bytes.byteLength <= s.readMaxBytes ? bytes : undefined;
  }
  if (bytes.byteLength < 5 || bytes[0] !== 0) return undefined;
  const length = bytes.readUInt32BE(1);
  if (length > s.readMaxBytes || bytes.byteLength !== 5 + length) return undefined;
  return bytes.subarray(5);
}
