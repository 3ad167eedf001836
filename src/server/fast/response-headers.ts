/**
 * Response headers (or trailers) that remember the node header object they
 * are equal to until someone changes them. Most unary calls leave their
 * response headers as the fast path started them (a Content-Type, gRPC's
 * `grpc-status: 0` trailer), so the response can be written from a node
 * header object built once, instead of iterating (and sorting) the fetch
 * `Headers` into a new node object for every call. Any `set`, `append` or
 * `delete` — by a handler, an interceptor, an error — drops the shortcut,
 * and the call converts the `Headers` as before (node-headers.ts).
 *
 * @module
 */

import type { OutgoingHttpHeaders } from "node:http";
import type { Compression } from "@connectrpc/connect/protocol";
import type { FastProtocol } from "./protocols.js";

/** Fetch `Headers` that know the node header object equal to them while untouched. */
export class TrackedHeaders extends Headers {
  /**
   * The node header object (lower-case names, in the order `Headers`
   * iterates them) equal to these headers, or undefined once changed.
   * Shared between calls: never modify it.
   */
  untouched: Readonly<OutgoingHttpHeaders> | undefined;

  /**
   * @param init the headers, as `[name, value]` pairs
   * @param node the same headers as a node header object
   */
  constructor(init: readonly (readonly [string, string])[], node: Readonly<OutgoingHttpHeaders>) {
    // Filled through the base class's set: Headers' own init parsing costs more.
    super();
    for (let i = 0; i < init.length; i++) super.set(init[i]![0], init[i]![1]);
    this.untouched = node;
  }

  override set(name: string, value: string): void {
    this.untouched = undefined;
    super.set(name, value);
  }

  override append(name: string, value: string): void {
    this.untouched = undefined;
    super.append(name, value);
  }

  override delete(name: string): void {
    this.untouched = undefined;
    super.delete(name);
  }
}

/**
 * A frozen node header object for fixed headers (lower-case names, given
 * in the order `Headers` iterates them: sorted by name).
 *
 * @example
 * const node = frozenNodeHeaders([["content-type", "application/grpc+proto"]]);
 */
export function frozenNodeHeaders(
  pairs: readonly (readonly [string, string])[],
): Readonly<OutgoingHttpHeaders> {
  const out: OutgoingHttpHeaders = Object.create(null);
  for (const [name, value] of pairs) out[name] = value;
  return Object.freeze(out);
}

/**
 * The response headers and trailers a call starts with, as connect starts
 * them: Content-Type, the response compression when it is `announced`
 * (gRPC, and Connect streaming), and gRPC's `grpc-status: 0` trailer.
 *
 * @example
 * const { header, trailer } = startResponseHeaders(protocol, compression);
 */
export function startResponseHeaders(
  protocol: FastProtocol,
  announced: Compression | null,
): { header: TrackedHeaders; trailer: TrackedHeaders } {
  const start = responseStart(protocol, announced);
  return {
    header: new TrackedHeaders(start.header, start.headerNode),
    trailer: new TrackedHeaders(start.trailer, start.trailerNode),
  };
}

/** The headers and trailers a call starts with, as Headers pairs and as node objects. */
interface ResponseStart {
  readonly header: readonly (readonly [string, string])[];
  readonly headerNode: Readonly<OutgoingHttpHeaders>;
  readonly trailer: readonly (readonly [string, string])[];
  readonly trailerNode: Readonly<OutgoingHttpHeaders>;
}

/** Per protocol, per announced compression ("" for none): built on first use. */
const starts = new WeakMap<FastProtocol, Map<string, ResponseStart>>();

function responseStart(protocol: FastProtocol, announced: Compression | null): ResponseStart {
  let byCompression = starts.get(protocol);
  if (byCompression === undefined) {
    byCompression = new Map();
    starts.set(protocol, byCompression);
  }
  const name = announced?.name ?? "";
  let start = byCompression.get(name);
  if (start === undefined) {
    const header: [string, string][] = [["content-type", protocol.responseContentType]];
    if (announced) header.push([protocol.encodingHeader, announced.name]);
    // Sorted as Headers iterates them, so the node object has the same order.
    header.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const trailer: [string, string][] = protocol.name === "grpc" ? [["grpc-status", "0"]] : [];
    start = {
      header,
      headerNode: frozenNodeHeaders(header),
      trailer,
      trailerNode: frozenNodeHeaders(trailer),
    };
    byCompression.set(name, start);
  }
  return start;
}
