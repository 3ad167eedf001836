/**
 * Interceptors that act on some kinds of method only. Most of the server's
 * interceptors are about streams (the observer's message counts, the
 * stream limits, the drain, input cancellation); for a unary call each of
 * them only awaits `next` — one async frame and one promise per call and per
 * interceptor. An interceptor tagged here with the kinds it acts on is left
 * out of the fast path's chains for the other kinds (src/server/fast/),
 * which the tag must therefore describe exactly: for any other kind the
 * interceptor returns `next(req)` unchanged. connect's own chain (the
 * library path) still runs it, with the same outcome.
 *
 * @module
 */
import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";

/** A method kind: `unary`, `server_streaming`, `client_streaming`, `bidi_streaming`. */
export type MethodKind = DescMethod["methodKind"];

const kKinds = Symbol("switchboard interceptor method kinds");

type TaggedInterceptor = Interceptor & { [kKinds]?: ReadonlySet<MethodKind> };

/**
 * Tags `interceptor` as acting only on methods of `kinds` (it returns
 * `next(req)` unchanged for every other kind) and returns it.
 *
 * @example
 * return forMethodKinds(["client_streaming", "bidi_streaming"], (next) => async (req) => …);
 */
export function forMethodKinds(
  kinds: readonly MethodKind[],
  interceptor: Interceptor,
): Interceptor {
  (interceptor as TaggedInterceptor)[kKinds] = new Set(kinds);
  return interceptor;
}

/** Whether `interceptor` acts on methods of `kind` (untagged ones act on all). */
export function actsOn(interceptor: Interceptor, kind: MethodKind): boolean {
  const kinds = (interceptor as TaggedInterceptor)[kKinds];
  return kinds === undefined || kinds.has(kind);
}
