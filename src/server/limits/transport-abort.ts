/**
 * The server side of `kTransportAbort` (src/service/stream-control.ts): how
 * the service resets the transport of a call whose client stopped reading.
 * HTTP/2 streams are reset with CANCEL (clients report `canceled`; a reset
 * with any other code would make connect-node log the failed write as an
 * internal error); an HTTP/1.1 call's connection is closed.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import { constants, type Http2ServerRequest } from "node:http2";
import { type ContextValues, createContextValues } from "@connectrpc/connect";
import { kTransportAbort } from "../../service/stream-control.js";

/**
 * Creates the context values of one request with `kTransportAbort` set.
 * Pass as connect-node's `contextValues` option (or call from one).
 *
 * @example
 * connectNodeAdapter({ routes, contextValues: transportContextValues });
 */
export function transportContextValues(req: IncomingMessage | Http2ServerRequest): ContextValues {
  const values = createContextValues();
  values.set(kTransportAbort, () => {
    if ("stream" in req) {
      const stream = req.stream;
      if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    } else {
      req.socket.destroy();
    }
  });
  return values;
}
