/**
 * `switchboard token`: mints a JWT with the secret the server uses.
 *
 * @module
 */
import { access } from "node:fs/promises";
import { join } from "node:path";
import { mintToken } from "../../auth/tokens.js";
import { defaultServerConfig } from "../../server/config.js";
import { jwtSecretFileName, loadJwtSecret } from "../../server/jwt-secret.js";
import { expectPositionals, globalHelp, parseCommand, parseDurationSeconds } from "../args.js";
import { type CliContext, type Command, exitCodes, UsageError } from "../context.js";

const options = {
  user: { type: "string", short: "u" },
  name: { type: "string" },
  rooms: { type: "string", multiple: true },
  publish: { type: "string", multiple: true },
  subscribe: { type: "string", multiple: true },
  ttl: { type: "string", default: "24h" },
  "data-dir": { type: "string" },
  "jwt-secret": { type: "string" },
} as const;

/**
 * The server's secret: --jwt-secret, SWITCHBOARD_JWT_SECRET, or an existing
 * `<data-dir>/jwt-secret` (never created here).
 */
async function readSecret(
  flags: { "jwt-secret"?: string; "data-dir"?: string },
  ctx: CliContext,
): Promise<Uint8Array> {
  const explicit = flags["jwt-secret"] ?? (ctx.env.SWITCHBOARD_JWT_SECRET || undefined);
  const dataDir =
    flags["data-dir"] ?? (ctx.env.SWITCHBOARD_DATA_DIR || defaultServerConfig.dataDir);
  if (explicit === undefined) {
    const file = join(dataDir, jwtSecretFileName);
    try {
      await access(file);
    } catch {
      throw new Error(
        `no JWT secret: ${file} does not exist; pass --jwt-secret, set SWITCHBOARD_JWT_SECRET, or point --data-dir at the server's data directory (it is created on the server's first start)`,
      );
    }
  }
  return loadJwtSecret({ jwtSecret: explicit, dataDir });
}

/** `switchboard token`. */
export const tokenCommand: Command = {
  name: "token",
  summary: "mint an access token (JWT) for a user",
  help: `Usage: switchboard token --user <id> [flags]

Prints a signed token on stdout, e.g.
  export SWITCHBOARD_TOKEN=$(switchboard token --user alice --rooms 'team-*')
The secret is the server's: --jwt-secret, SWITCHBOARD_JWT_SECRET, or the
jwt-secret file in --data-dir / SWITCHBOARD_DATA_DIR (default ./data).

Flags:
  -u, --user <id>         subject (required)
  --name <text>           display name (default: the user id)
  --rooms <pattern>       rooms to publish and subscribe, repeatable; * and ? globs
  --publish <pattern>     rooms to publish only, repeatable
  --subscribe <pattern>   rooms to subscribe only, repeatable
                          (none of the three: all rooms, '*')
  --ttl <duration>        lifetime: 90s, 30m, 24h, 7d (default 24h)
  --data-dir <dir>        server data directory holding jwt-secret
  --jwt-secret <s>        the server's secret

${globalHelp}`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, options);
    expectPositionals(positionals, []);
    if (!values.user) throw new UsageError("--user: required");
    const ttlSeconds = parseDurationSeconds("--ttl", values.ttl);
    const allRooms = !values.rooms && !values.publish && !values.subscribe;
    const rooms = allRooms ? ["*"] : values.rooms ? [...values.rooms] : undefined;
    const secret = await readSecret(values, ctx);
    const token = await mintToken(secret, {
      subject: values.user,
      name: values.name,
      rooms,
      publish: values.publish ? [...values.publish] : undefined,
      subscribe: values.subscribe ? [...values.subscribe] : undefined,
      ttlSeconds,
    });
    if (allRooms) {
      ctx.stderr.write(
        "note: no --rooms/--publish/--subscribe given: the token allows all rooms\n",
      );
    }
    ctx.stdout.write(`${token}\n`);
    return exitCodes.ok;
  },
};
