/**
 * What a fuzz category is, what it runs against, and the helpers its oracle
 * uses to read and judge responses.
 *
 * @module
 */
import type http from "node:http";
import type http2 from "node:http2";
import type { Rng } from "./prng.js";
import type { H2Response } from "./wire.js";

/** The server under fuzz, as one worker sees it. */
export interface FuzzTarget {
  readonly url: string;
  readonly port: number;
  /** A valid token for every room. */
  readonly token: string;
  /** The worker's shared h2c session (reopened when a case broke it). */
  session(): Promise<http2.ClientHttp2Session>;
  /** The worker's keep-alive HTTP/1.1 agent. */
  readonly agent: http.Agent;
}

/** One category of bad input and the oracle for it. */
export interface FuzzCategory {
  readonly name: string;
  /** Which answer the server must give, and why (shown in the README and on failure). */
  readonly oracle: string;
  /** Relative share of the cases. */
  readonly weight: number;
  /** Generates one case from `rng`, sends it, and throws a {@link FuzzFailure} if the answer is wrong. */
  run(rng: Rng, target: FuzzTarget): Promise<void>;
}

/** An oracle violation; the message describes the input and the answer. */
export class FuzzFailure extends Error {
  override name = "FuzzFailure";
}

/** Throws a {@link FuzzFailure} unless `ok`. */
export function expect(ok: boolean, what: string, got: () => string): asserts ok {
  if (!ok) throw new FuzzFailure(`${what}\n  got: ${got()}`);
}

/** The path of a ChatService method. */
export const procedure = (method: string) => `/switchboard.chat.v1.ChatService/${method}`;

/** A gRPC status read from a response. */
export interface GrpcStatus {
  code: number | undefined;
  message: string;
}

/** A grpc-status from HTTP/2 trailers or a trailers-only response. */
export function grpcStatus(r: H2Response): GrpcStatus {
  const code = r.trailers["grpc-status"] ?? r.headers["grpc-status"];
  const message = r.trailers["grpc-message"] ?? r.headers["grpc-message"];
  return {
    code: code === undefined ? undefined : Number(code),
    message: decodeURIComponent(String(message ?? "")),
  };
}

/** Splits a body into gRPC envelopes (a trailing partial one is dropped). */
export function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const len = body.readUInt32BE(at + 1);
    if (at + 5 + len > body.length) break;
    out.push({ flags: body[at] as number, data: body.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

/** A gRPC-Web status: from the trailer frame in the body, or from the headers (trailers-only). */
export function grpcWebStatus(r: H2Response): GrpcStatus {
  const trailer = envelopes(r.body).find((e) => (e.flags & 0x80) === 0x80);
  if (trailer === undefined) return grpcStatus(r);
  const fields = new Map<string, string>();
  for (const line of trailer.data.toString("latin1").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) fields.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const code = fields.get("grpc-status");
  return {
    code: code === undefined ? undefined : Number(code),
    message: decodeURIComponent(fields.get("grpc-message") ?? ""),
  };
}

/** Describes a response for a failure message. */
export function describe(r: H2Response, status?: GrpcStatus): string {
  const s = status ? ` grpc-status ${status.code} "${status.message}"` : "";
  const body = r.body.subarray(0, 200).toString("latin1");
  return `HTTP ${r.status ?? "-"}${r.reset ? ` ${r.reset}` : ""}${s} content-type ${r.headers["content-type"]} body ${JSON.stringify(body)}`;
}

/** Hex of the first bytes of an input, for failure messages. */
export function hex(bytes: Uint8Array, max = 64): string {
  const b = Buffer.from(bytes.subarray(0, max)).toString("hex");
  return bytes.length > max ? `${b}… (${bytes.length} bytes)` : b;
}

/** gRPC status codes used by the oracles. */
export const grpcCode = {
  ok: 0,
  unknown: 2,
  invalidArgument: 3,
  deadlineExceeded: 4,
  resourceExhausted: 8,
  unimplemented: 12,
  internal: 13,
} as const;
