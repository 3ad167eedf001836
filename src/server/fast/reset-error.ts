/**
 * The error a call's signal aborts with when its HTTP/2 stream is reset,
 * by reset code — the mapping connect-node's adapter uses (gRPC's
 * PROTOCOL-HTTP2.md, "Errors"); NO_ERROR and STREAM_CLOSED map to none.
 *
 * @module
 */

import { constants } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

const names: Readonly<Record<number, [string, Code]>> = {
  [constants.NGHTTP2_PROTOCOL_ERROR]: ["PROTOCOL_ERROR", Code.Internal],
  [constants.NGHTTP2_INTERNAL_ERROR]: ["INTERNAL_ERROR", Code.Internal],
  [constants.NGHTTP2_FLOW_CONTROL_ERROR]: ["FLOW_CONTROL_ERROR", Code.Internal],
  [constants.NGHTTP2_SETTINGS_TIMEOUT]: ["SETTINGS_TIMEOUT", Code.Internal],
  [constants.NGHTTP2_FRAME_SIZE_ERROR]: ["FRAME_SIZE_ERROR", Code.Internal],
  [constants.NGHTTP2_COMPRESSION_ERROR]: ["COMPRESSION_ERROR", Code.Internal],
  [constants.NGHTTP2_CONNECT_ERROR]: ["CONNECT_ERROR", Code.Internal],
  [constants.NGHTTP2_REFUSED_STREAM]: ["REFUSED_STREAM", Code.Unavailable],
  [constants.NGHTTP2_CANCEL]: ["CANCEL", Code.Canceled],
  [constants.NGHTTP2_ENHANCE_YOUR_CALM]: ["ENHANCE_YOUR_CALM", Code.ResourceExhausted],
  [constants.NGHTTP2_INADEQUATE_SECURITY]: ["INADEQUATE_SECURITY", Code.PermissionDenied],
  [constants.NGHTTP2_HTTP_1_1_REQUIRED]: ["HTTP_1_1_REQUIRED", Code.PermissionDenied],
};

/**
 * The ConnectError for a stream reset with `rstCode`, or undefined.
 *
 * @example
 * const reason = resetError(req.stream.rstCode);
 */
export function resetError(rstCode: number): ConnectError | undefined {
  const entry = names[rstCode];
  if (entry === undefined) return undefined;
  return new ConnectError(
    `http/2 stream closed with error code ${entry[0]} (0x${rstCode.toString(16)})`,
    entry[1],
  );
}
