/**
 * The gRPC interop test cases Switchboard passes (names and constants from
 * grpc/grpc doc/interop-test-descriptions.md), shared by the grpc-js and
 * the Python client so both run exactly the same list.
 *
 * @module
 */

/** Every case, in the order the clients run them. */
export const interopCaseNames = [
  "empty_unary",
  "large_unary",
  "client_compressed_unary",
  "server_compressed_unary",
  "client_streaming",
  "client_compressed_streaming",
  "server_streaming",
  "server_compressed_streaming",
  "ping_pong",
  "empty_stream",
  "custom_metadata",
  "status_code_and_message",
  "special_status_message",
  "unimplemented_method",
  "unimplemented_service",
  "cancel_after_begin",
  "cancel_after_first_response",
  "timeout_on_sleeping_server",
] as const;

/** One case name. */
export type InteropCaseName = (typeof interopCaseNames)[number];

/** The status message of special_status_message: whitespace, BMP and non-BMP characters. */
export const specialStatusMessage =
  "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

/** Request payload sizes of client_streaming (sum 74922). */
export const clientStreamingSizes = [27182, 8, 1828, 45904] as const;

/** Response sizes of server_streaming and ping_pong (ping_pong's request sizes are clientStreamingSizes). */
export const serverStreamingSizes = [31415, 9, 2653, 58979] as const;
