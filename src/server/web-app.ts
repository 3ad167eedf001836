/**
 * Serves the browser app (the Vite build in `web/dist`) at `/`: correct
 * content types, long-lived caching for hashed assets and revalidation for
 * everything else, ETags, gzip for text, a single-page-app fallback to
 * `index.html` for navigations, and no way out of the root directory.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** The part of a node:http or node:http2 request these handlers read. */
export interface WebRequest extends AsyncIterable<Buffer | string> {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The part of a node:http or node:http2 response these handlers write. */
export interface WebResponse {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(body?: string | Uint8Array): unknown;
}

type Req = WebRequest;
type Res = WebResponse;

/** Where `npm run build:web` (and `npm ci`, through `prepare`) puts the app. */
export const defaultWebRoot = fileURLToPath(new URL("../../web/dist/", import.meta.url));

/** Content types by file extension; anything else is `application/octet-stream`. */
export const webContentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

/** `Cache-Control` of files under `/assets/` (content-hashed names: never change). */
export const immutableCacheControl = "public, max-age=31536000, immutable";
/** `Cache-Control` of everything else (index.html, icons): always revalidate. */
export const revalidateCacheControl = "no-cache";

/**
 * `Content-Security-Policy` of the app's pages: its own scripts and styles
 * only, API and tunnel calls to its own origin only, no framing.
 */
export const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Largest file served, kept in memory once read (the bundle is far smaller); larger ones are 404. */
const maxCachedBytes = 16 * 1024 * 1024;

interface CachedFile {
  readonly mtimeMs: number;
  readonly size: number;
  readonly body: Buffer;
  readonly gzip: Buffer | undefined;
  readonly etag: string;
}

/** Options of {@link createWebAppHandler}. */
export interface WebAppOptions {
  /** Directory holding `index.html` and `assets/`. Default {@link defaultWebRoot}. */
  readonly root?: string;
}

/**
 * Creates a handler for the browser app. It returns `true` when it answered
 * the request and `false` when the request is not for it (not GET/HEAD), so
 * the caller can go on to its own 404. Paths that leave the root (`..`,
 * encoded separators, NUL bytes) and unknown paths that look like files are
 * left to that 404; navigations (`Accept: text/html`, no file extension) get
 * `index.html`. When the app is not built, `/` explains how to build it.
 *
 * @example
 * const serveWeb = createWebAppHandler();
 * if (await serveWeb(req, res)) return;
 */
export function createWebAppHandler(
  options: WebAppOptions = {},
): (req: Req, res: Res) => Promise<boolean> {
  const root = resolve(options.root ?? defaultWebRoot);
  const cache = new Map<string, CachedFile>();

  async function load(file: string): Promise<CachedFile | undefined> {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(file);
    } catch {
      return undefined;
    }
    if (!info.isFile() || info.size > maxCachedBytes) return undefined;
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit;
    const body = await readFile(file);
    const type = contentTypeOf(file);
    const compressible = /^(text\/|application\/(json|manifest)|image\/svg)/.test(type);
    const gzip = compressible && body.length > 1024 ? gzipSync(body) : undefined;
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    const entry = { mtimeMs: info.mtimeMs, size: info.size, body, gzip, etag };
    cache.set(file, entry);
    return entry;
  }

  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = safePath(req.url ?? "/");
    // A path that tries to leave the root is simply not found.
    if (path === undefined) return false;
    const wantsHtml = /\btext\/html\b/.test(String(req.headers.accept ?? ""));
    const isAsset = path.startsWith("/assets/");
    let file = path.endsWith("/") ? `${path}index.html` : path;
    let entry = await load(resolve(root, `.${file}`));
    if (entry === undefined && !isAsset && extname(path) === "" && wantsHtml) {
      file = "/index.html";
      entry = await load(resolve(root, "index.html"));
    }
    if (entry === undefined) {
      if (path === "/" || (wantsHtml && extname(path) === "")) {
        sendText(
          res,
          404,
          `The browser app is not built (no ${resolve(root, "index.html")}).\nRun \`npm run build:web\` (npm ci does it) and reload.\n`,
        );
        return true;
      }
      // Not ours: the caller answers 404.
      return false;
    }
    const headers: Record<string, string> = {
      "Content-Type": contentTypeOf(file),
      "Cache-Control": isAsset ? immutableCacheControl : revalidateCacheControl,
      ETag: entry.etag,
      Vary: "Accept-Encoding",
      "X-Content-Type-Options": "nosniff",
    };
    if (file.endsWith(".html")) {
      headers["Content-Security-Policy"] = contentSecurityPolicy;
      headers["Referrer-Policy"] = "no-referrer";
      headers["X-Frame-Options"] = "DENY";
    }
    if (req.headers["if-none-match"] === entry.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gzipOk =
      entry.gzip !== undefined && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const body = gzipOk ? entry.gzip! : entry.body;
    if (gzipOk) headers["Content-Encoding"] = "gzip";
    headers["Content-Length"] = String(body.length);
    res.writeHead(200, headers);
    if (req.method === "HEAD") res.end();
    else res.end(body);
    return true;
  };
}

/** The content type of a file name, by extension. */
export function contentTypeOf(file: string): string {
  return webContentTypes[extname(file).toLowerCase()] ?? "application/octet-stream";
}

/**
 * The decoded, normalized path of a request URL, or undefined when it is
 * malformed or tries to leave the root (`..` segments, backslashes, NUL,
 * encoded slashes).
 */
export function safePath(url: string): string | undefined {
  const raw = url.split(/[?#]/, 1)[0] ?? "/";
  if (!raw.startsWith("/") || /%2f|%5c/i.test(raw)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const segments = decoded.split("/");
  if (segments.some((s) => s === ".." || s === ".")) return undefined;
  const normalized = decoded.replace(/\/{2,}/g, "/");
  // Belt and braces: the resolved path must stay inside a root.
  const probe = resolve("/root", `.${normalized}`);
  if (probe !== "/root" && !probe.startsWith(`/root${sep}`)) return undefined;
  return normalized;
}

function sendText(res: Res, status: number, text: string): void {
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  res.end(text);
}
