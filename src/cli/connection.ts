/**
 * Builds the SDK client from the global flags and environment.
 *
 * @module
 */
import {
  createSwitchboardClient,
  type HttpVersion,
  type SwitchboardClient,
  type SwitchboardProtocol,
} from "../client/index.js";
import { switchboardProtocols } from "../client/node-transport.js";
import type { CliContext } from "./context.js";
import { UsageError } from "./context.js";

/** Server URL used when neither --server nor SWITCHBOARD_URL is set. */
export const defaultServerUrl = "http://127.0.0.1:8080";

/** The global flags as parsed. */
export interface ConnectionFlags {
  readonly server?: string;
  readonly token?: string;
  readonly protocol?: string;
  readonly "http-version"?: string;
}

/** Where and how to connect, resolved from flags over environment. */
export interface Connection {
  readonly baseUrl: string;
  readonly token: string;
  readonly protocol: SwitchboardProtocol;
  readonly httpVersion: HttpVersion | undefined;
}

/**
 * Resolves the connection settings. Flags win over `SWITCHBOARD_URL`,
 * `SWITCHBOARD_TOKEN` and `SWITCHBOARD_PROTOCOL`.
 *
 * @throws UsageError for a bad URL or protocol; Error when there is no token.
 */
export function resolveConnection(flags: ConnectionFlags, ctx: CliContext): Connection {
  const baseUrl = (flags.server ?? ctx.env.SWITCHBOARD_URL ?? defaultServerUrl).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/\s]+/.test(baseUrl)) {
    throw new UsageError(`--server: must be an http:// or https:// URL, got "${baseUrl}"`);
  }
  const protocol = flags.protocol ?? ctx.env.SWITCHBOARD_PROTOCOL ?? "grpc";
  if (!(switchboardProtocols as readonly string[]).includes(protocol)) {
    throw new UsageError(`--protocol: must be grpc, connect or grpc-web, got "${protocol}"`);
  }
  const httpVersion = flags["http-version"];
  if (httpVersion !== undefined && httpVersion !== "1.1" && httpVersion !== "2") {
    throw new UsageError(`--http-version: must be 1.1 or 2, got "${httpVersion}"`);
  }
  if (protocol === "grpc" && httpVersion === "1.1") {
    throw new UsageError("--http-version: grpc needs HTTP/2");
  }
  const token = flags.token ?? ctx.env.SWITCHBOARD_TOKEN ?? "";
  if (token === "") {
    throw new Error(
      "no token: pass --token or set SWITCHBOARD_TOKEN (mint one with 'switchboard token --user <name>')",
    );
  }
  return {
    baseUrl,
    token,
    protocol: protocol as SwitchboardProtocol,
    httpVersion: httpVersion as HttpVersion | undefined,
  };
}

/**
 * Resolves the connection and creates the SDK client.
 *
 * @example
 * const sb = connect(values, ctx);
 */
export function connect(flags: ConnectionFlags, ctx: CliContext): SwitchboardClient {
  const c = resolveConnection(flags, ctx);
  return createSwitchboardClient(c);
}
