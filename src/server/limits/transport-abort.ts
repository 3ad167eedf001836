/**
 * The server side of `kTransportAbort` (src/service/stream-control.ts): how
 * the service resets the transport of a call whose client stopped reading.
 * HTTP/2 streams are reset with CANCEL (clients report `canceled`; a reset
 * with any other code would make connect-node log the failed write as an
 * internal error); an HTTP/1.1 call's connection is closed.
 *
 * @module
 */
import { constants } from "node:http2";
import type { ContextKey, ContextValues } from "@connectrpc/connect";
import { kTransportAbort } from "../../service/stream-control.js";
import { type FastRequest, h2StreamOf } from "../fast/h2-stream-response.js";

/**
 * Creates the context values of one request with `kTransportAbort` set.
 * Pass as connect-node's `contextValues` option (or call from one).
 *
 * @example
 * connectNodeAdapter({ routes, contextValues: transportContextValues });
 */
export function transportContextValues(req: FastRequest): ContextValues {
  const values = new RequestValues();
  values.set(kTransportAbort, () => {
    const stream = h2StreamOf(req);
    if (stream !== undefined) {
      if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    } else {
      (req as { socket: { destroy(): void } }).socket.destroy();
    }
  });
  return values;
}

/**
 * connect's `createContextValues()` with its three methods on the prototype
 * instead of three closures per request (same storage: one property per
 * key id on the object).
 */
class RequestValues implements ContextValues {
  get<T>(key: ContextKey<T>): T {
    const self = this as unknown as Record<symbol, T>;
    return key.id in self ? self[key.id]! : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Record<symbol, T>)[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Record<symbol, unknown>)[key.id];
    return this;
  }
}
