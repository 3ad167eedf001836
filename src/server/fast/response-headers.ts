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
