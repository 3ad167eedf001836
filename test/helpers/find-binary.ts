/**
 * Finding the binaries of the services tests start (haproxy, nats-server).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * Path of the `name` binary: `$<envVar>`, then /usr/sbin, /usr/bin and the
 * PATH. Throws, naming the Debian package to install, when none is found.
 *
 * @example
 * const bin = findBinary("haproxy", "HAPROXY_BIN");
 */
export function findBinary(name: string, envVar: string): string {
  const candidates = [process.env[envVar], `/usr/sbin/${name}`, `/usr/bin/${name}`];
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir) candidates.push(join(dir, name));
  }
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error(`${name} binary not found (install the Debian package ${name})`);
}
