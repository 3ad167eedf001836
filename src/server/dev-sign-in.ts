/**
 * Development sign-in: with `switchboard serve --dev` (and only then) the
 * server answers `GET /dev/sign-in` (is it on?) and `POST /dev/sign-in`
 * (`{"name": "Ada"}` → a 24 h token for that name, every room). Anyone who
 * can reach the endpoint can become anyone, so it refuses non-loopback
 * listeners unless `--dev-allow-remote` is given, and refuses requests whose
 * Host or Origin is not the server itself (DNS rebinding, cross-site forms).
 *
 * @module
 */

import { isIP } from "node:net";
import { mintToken } from "../auth/tokens.js";
import { ConfigError, type ServerConfig } from "./config.js";
import type { WebRequest, WebResponse } from "./web-app.js";

type Req = WebRequest;
type Res = WebResponse;

/** The path of the dev sign-in endpoint. */
export const devSignInPath = "/dev/sign-in";

/** Lifetime of a dev token, in seconds. */
export const devTokenTtlSeconds = 86_400;

/** Display names the dev sign-in accepts. */
export const devNamePattern = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,31}$/u;

/** Largest request body accepted, in bytes. */
const maxBodyBytes = 4096;

/** Options of {@link createDevSignInHandler}. */
export interface DevSignInOptions {
  /** The server's token secret. */
  readonly secret: Uint8Array;
  /** Accept any Host header (the server listens beyond loopback on purpose). */
  readonly allowRemote?: boolean;
}

/** What `POST /dev/sign-in` answers. */
export interface DevSignInResponse {
  readonly token: string;
  readonly user: { readonly id: string; readonly name: string };
  readonly expiresAt: string;
}

/**
 * True for names and addresses of the loopback interface: `localhost`,
 * `127.0.0.0/8`, `::1` (with or without brackets).
 *
 * @example
 * isLoopbackHost("127.0.0.1"); // true
 * isLoopbackHost("0.0.0.0");   // false
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || h.startsWith("::ffff:127.");
  return false;
}

/**
 * Refuses dev mode on a host other than loopback unless `devAllowRemote` is
 * set: the dev sign-in would let anyone who reaches the port become anyone.
 *
 * @throws ConfigError naming `--dev-allow-remote`.
 *
 * @example
 * assertDevHostAllowed({ host: "0.0.0.0", dev: true }); // throws
 */
export function assertDevHostAllowed(
  config: Pick<ServerConfig, "host" | "dev" | "devAllowRemote">,
): void {
  if (!config.dev || config.devAllowRemote === true || isLoopbackHost(config.host)) return;
  throw new ConfigError(
    `--dev: the dev sign-in lets anyone sign in as anyone, and host "${config.host}" is not loopback; listen on 127.0.0.1, or accept the risk with --dev-allow-remote (SWITCHBOARD_DEV_ALLOW_REMOTE=true)`,
  );
}

/**
 * The user id of a dev display name: lower case, runs of anything but
 * letters, digits, `.`, `_` and `-` become one `-`.
 *
 * @example
 * devUserId("Ada Lovelace"); // "ada-lovelace"
 */
export function devUserId(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}._-]+/gu, "-")
    .replace(/^-+|-+$/g, "");
}

/**
 * Creates the dev sign-in handler. It returns `true` when it answered the
 * request (its path) and `false` otherwise. Only install it in dev mode:
 * without it the path is an ordinary 404.
 *
 * @example
 * const devSignIn = createDevSignInHandler({ secret });
 * if (await devSignIn(req, res)) return;
 */
export function createDevSignInHandler(
  opts: DevSignInOptions,
): (req: Req, res: Res) => Promise<boolean> {
  return async (req, res) => {
    const path = (req.url ?? "").split("?", 1)[0];
    if (path !== devSignInPath) return false;
    if (!opts.allowRemote && !sameLoopbackOrigin(req)) {
      sendJson(res, 403, { error: "dev sign-in only answers loopback requests" });
      return true;
    }
    if (req.method === "GET" || req.method === "HEAD") {
      sendJson(res, 200, { enabled: true });
      return true;
    }
    if (req.method !== "POST") {
      res.setHeader("Allow", "GET, HEAD, POST");
      sendJson(res, 405, { error: "method not allowed" });
      return true;
    }
    // JSON only: a cross-site form cannot send it without a CORS preflight.
    if (!/^application\/json\b/i.test(String(req.headers["content-type"] ?? ""))) {
      sendJson(res, 415, { error: "content-type must be application/json" });
      return true;
    }
    let name: unknown;
    try {
      const body = await readBody(req);
      name = (JSON.parse(body) as { name?: unknown } | null)?.name;
    } catch {
      sendJson(res, 400, { error: 'body must be JSON like {"name": "Ada"}' });
      return true;
    }
    const trimmed = typeof name === "string" ? name.trim() : "";
    if (!devNamePattern.test(trimmed) || devUserId(trimmed) === "") {
      sendJson(res, 400, {
        error: "name: must be 1-32 letters, digits, spaces or ._- and start with a letter or digit",
      });
      return true;
    }
    const id = devUserId(trimmed);
    const token = await mintToken(opts.secret, {
      subject: id,
      name: trimmed,
      rooms: ["*"],
      ttlSeconds: devTokenTtlSeconds,
    });
    const response: DevSignInResponse = {
      token,
      user: { id, name: trimmed },
      expiresAt: new Date(Date.now() + devTokenTtlSeconds * 1000).toISOString(),
    };
    sendJson(res, 200, response);
    return true;
  };
}

/** Host is loopback, and Origin (when a browser sends one) is the same host. */
function sameLoopbackOrigin(req: Req): boolean {
  const host = String(req.headers.host ?? req.headers[":authority"] ?? "");
  const hostname = host.replace(/:\d+$/, "");
  if (!isLoopbackHost(hostname)) return false;
  const origin = req.headers.origin;
  if (origin === undefined || origin === "null") return origin === undefined;
  try {
    return new URL(String(origin)).host === host;
  } catch {
    return false;
  }
}

async function readBody(req: Req): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > maxBodyBytes) throw new Error("body too large");
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: Res, status: number, body: unknown): void {
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  res.end(`${JSON.stringify(body)}\n`);
}
