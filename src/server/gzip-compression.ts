/**
 * gzip for requests and responses — connect-node's `compressionGzip` with
 * one correction: a gzip body that ends early ("unexpected end of file",
 * zlib's Z_BUF_ERROR) is the client's fault, so it fails with
 * InvalidArgument "decompression failed" like any other corrupt gzip
 * (Z_DATA_ERROR). connect-node 2.2 maps it to Internal.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { compressionGzip } from "@connectrpc/connect-node";

/**
 * The server's gzip.
 *
 * @example
 * connectNodeAdapter({ routes, acceptCompression: [gzipCompression] });
 */
export const gzipCompression: Compression = {
  name: compressionGzip.name,
  compress: (bytes) => compressionGzip.compress(bytes),
  async decompress(bytes, readMaxBytes) {
    try {
      return await compressionGzip.decompress(bytes, readMaxBytes);
    } catch (e) {
      const cause =
        e instanceof ConnectError ? (e.cause as { code?: unknown } | undefined) : undefined;
      if (e instanceof ConnectError && e.code === Code.Internal && cause?.code === "Z_BUF_ERROR") {
        throw new ConnectError(e.rawMessage, Code.InvalidArgument, undefined, undefined, e.cause);
      }
      throw e;
    }
  },
};
