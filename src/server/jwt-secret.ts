/**
 * Where the HS256 token secret comes from: the configured string, or a file
 * `<dataDir>/jwt-secret` generated on first start and reused afterwards. The
 * CLI's `token` command uses the same function so its tokens match the
 * server's.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { minSecretBytes } from "../auth/tokens.js";
import { ConfigError } from "./config.js";

/** Name of the generated secret file inside the data directory. */
export const jwtSecretFileName = "jwt-secret";

/**
 * Returns the token secret: the UTF-8 bytes of `jwtSecret` when given,
 * otherwise the hex-decoded contents of `<dataDir>/jwt-secret`, which is
 * created (32 random bytes as hex, mode 0600, directory 0700) when missing.
 *
 * @throws ConfigError when the configured secret is shorter than 32 bytes or
 * the file is not a hex secret of at least 32 bytes.
 *
 * @example
 * const secret = await loadJwtSecret({ dataDir: "./data" });
 */
export async function loadJwtSecret(opts: {
  jwtSecret?: string | undefined;
  dataDir: string;
}): Promise<Uint8Array> {
  if (opts.jwtSecret !== undefined) {
    const bytes = new TextEncoder().encode(opts.jwtSecret);
    if (bytes.byteLength < minSecretBytes) {
      throw new ConfigError(`jwtSecret: must be at least ${minSecretBytes} bytes`);
    }
    return bytes;
  }
  const file = join(opts.dataDir, jwtSecretFileName);
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const fresh = randomBytes(minSecretBytes);
  try {
    await writeFile(file, `${fresh.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    return new Uint8Array(fresh);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return readSecretFile(file);
}

async function readSecretFile(file: string): Promise<Uint8Array> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
  const text = (await readFile(file, "utf8")).trim();
  if (!/^(?:[0-9a-f]{2})+$/i.test(text) || text.length < minSecretBytes * 2) {
    throw new ConfigError(
      `${file}: must hold at least ${minSecretBytes} bytes as hex; delete it to generate a new secret`,
    );
  }
  return new Uint8Array(Buffer.from(text, "hex"));
}
