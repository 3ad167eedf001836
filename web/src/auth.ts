/**
 * Who is signed in: the bearer token (kept in localStorage), what its claims
 * say, and the dev sign-in endpoint of `switchboard serve --dev`.
 *
 * @module
 */

const tokenKey = "switchboard.token";

/** The signed-in user, from the token's claims (the server verifies them; we only display). */
export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly name: string;
  /** Room patterns the user may read. */
  readonly subscribe: readonly string[];
  /** Room patterns the user may publish to. */
  readonly publish: readonly string[];
  /** Expiry in ms since the epoch; undefined when the token has none. */
  readonly expiresAtMs: number | undefined;
}

/**
 * Reads a JWT's claims without verifying it. Returns undefined for anything
 * that is not a Switchboard token.
 *
 * @example
 * const s = parseToken(token); s?.name;
 */
export function parseToken(token: string): Session | undefined {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return undefined;
  try {
    const json = atob(parts[1]!.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as {
      sub?: unknown;
      name?: unknown;
      exp?: unknown;
      rooms?: { pub?: unknown; sub?: unknown };
    };
    if (typeof claims.sub !== "string" || claims.sub === "") return undefined;
    const list = (v: unknown) =>
      Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
    return {
      token: token.trim(),
      userId: claims.sub,
      name: typeof claims.name === "string" && claims.name !== "" ? claims.name : claims.sub,
      subscribe: list(claims.rooms?.sub),
      publish: list(claims.rooms?.pub),
      expiresAtMs: typeof claims.exp === "number" ? claims.exp * 1000 : undefined,
    };
  } catch {
    return undefined;
  }
}

/** The stored session, unless missing, unreadable or expired. */
export function loadSession(): Session | undefined {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    // `…/#token=<jwt>` signs in and is removed from the address bar at once.
    history.replaceState(null, "", location.pathname + location.search);
    const s = parseToken(fromHash);
    if (s) saveSession(s);
  }
  const token = localStorage.getItem(tokenKey);
  if (!token) return undefined;
  const session = parseToken(token);
  if (!session || isExpired(session)) return undefined;
  return session;
}

/** True when the token's expiry has passed. */
export function isExpired(session: Session, nowMs = Date.now()): boolean {
  return session.expiresAtMs !== undefined && session.expiresAtMs <= nowMs;
}

/** Remembers the session for the next visit. */
export function saveSession(session: Session): void {
  localStorage.setItem(tokenKey, session.token);
}

/** Forgets the session. */
export function clearSession(): void {
  localStorage.removeItem(tokenKey);
}

/** True when the server runs with `--dev` and offers name-only sign-in. */
export async function devSignInAvailable(): Promise<boolean> {
  try {
    const res = await fetch("/dev/sign-in", { headers: { Accept: "application/json" } });
    if (!res.ok) return false;
    const body = (await res.json()) as { enabled?: unknown };
    return body.enabled === true;
  } catch {
    return false;
  }
}

/**
 * Asks the dev endpoint for a token for `name`.
 *
 * @throws Error with the server's explanation.
 */
export async function devSignIn(name: string): Promise<Session> {
  const res = await fetch("/dev/sign-in", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ name }),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!res.ok || typeof body.token !== "string") {
    throw new Error(body.error ?? `sign-in failed (HTTP ${res.status})`);
  }
  const session = parseToken(body.token);
  if (!session) throw new Error("the server returned an unreadable token");
  return session;
}
