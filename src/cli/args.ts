/**
 * Argument parsing shared by the commands: node:util parseArgs with the global
 * flags, usage errors for anything malformed, and value parsers.
 *
 * @module
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./context.js";

/** parseArgs option specs. */
export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** Flags every command accepts. */
export const globalOptions = {
  server: { type: "string" },
  token: { type: "string" },
  protocol: { type: "string" },
  "http-version": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** Help text of the global flags. */
export const globalHelp = `Global flags:
  --server <url>          server URL (env SWITCHBOARD_URL, default http://127.0.0.1:8080)
  --token <jwt>           bearer token (env SWITCHBOARD_TOKEN)
  --protocol <p>          grpc (default, HTTP/2) | connect | grpc-web (env SWITCHBOARD_PROTOCOL)
  --http-version <v>      1.1 | 2 for connect and grpc-web (default 1.1)
  -h, --help              show help`;

/**
 * Parses a command's arguments with the global flags added; malformed input
 * becomes a {@link UsageError}.
 *
 * @example
 * const { values, positionals } = parseCommand(argv, { json: { type: "boolean" } });
 */
export function parseCommand<T extends OptionSpecs>(argv: string[], options: T) {
  try {
    return parseArgs({
      args: argv,
      options: { ...globalOptions, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
}

/**
 * Parses a non-negative integer flag value.
 *
 * @example
 * parseInteger("--limit", "20"); // 20
 */
export function parseInteger(flag: string, raw: string | undefined, min = 0): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag}: must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

/**
 * Parses an offset (uint64) flag value.
 *
 * @example
 * parseOffset("--before", "42"); // 42n
 */
export function parseOffset(flag: string, raw: string | undefined): bigint | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,20}$/.test(raw) || BigInt(raw) > 0xffff_ffff_ffff_ffffn) {
    throw new UsageError(`${flag}: must be an offset (unsigned integer), got "${raw}"`);
  }
  return BigInt(raw);
}

const durationUnits: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses a duration like `90s`, `30m`, `24h`, `7d` or plain seconds into
 * seconds.
 *
 * @example
 * parseDurationSeconds("--ttl", "24h"); // 86400
 */
export function parseDurationSeconds(flag: string, raw: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(raw.trim());
  const seconds = match ? Number(match[1]) * (durationUnits[match[2] || "s"] ?? 1) : 0;
  if (!match || seconds <= 0) {
    throw new UsageError(`${flag}: must be a duration like 90s, 30m, 24h or 7d, got "${raw}"`);
  }
  return seconds;
}

/**
 * Exactly `count` positional arguments (or at least, with `variadic`), named
 * in the error.
 *
 * @example
 * const [room, text] = expectPositionals(positionals, ["room", "text"]);
 */
export function expectPositionals(
  positionals: string[],
  names: readonly string[],
  variadic = false,
): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`missing argument <${names[positionals.length]}>`);
  }
  if (!variadic && positionals.length > names.length) {
    throw new UsageError(`unexpected argument "${positionals[names.length]}"`);
  }
  return positionals;
}
