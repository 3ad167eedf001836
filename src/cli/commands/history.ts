/**
 * `switchboard history`: prints one page of a room's messages.
 *
 * @module
 */
import { expectPositionals, globalHelp, parseCommand, parseInteger, parseOffset } from "../args.js";
import { connect } from "../connection.js";
import { type Command, exitCodes, UsageError } from "../context.js";
import { formatMessage, messageJsonLine } from "../format.js";

const options = {
  limit: { type: "string", short: "n" },
  before: { type: "string" },
  after: { type: "string" },
  json: { type: "boolean" },
} as const;

/** `switchboard history`. */
export const historyCommand: Command = {
  name: "history",
  summary: "print stored messages of a room, one page",
  help: `Usage: switchboard history <room> [flags]

Prints one page of stored messages, oldest first: by default the newest ones.
When more exist, stderr says how to get the next page.

Flags:
  -n, --limit <n>         page size 1-1000 (default 100)
  --before <offset>       messages before this offset (older page)
  --after <offset>        messages after this offset (newer page)
  --json                  one JSON object per message

${globalHelp}`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, options);
    const [room] = expectPositionals(positionals, ["room"]);
    const limit = parseInteger("--limit", values.limit, 1);
    if (limit !== undefined && limit > 1000) throw new UsageError("--limit: must be 1-1000");
    const before = parseOffset("--before", values.before);
    const after = parseOffset("--after", values.after);
    if (before !== undefined && after !== undefined) {
      throw new UsageError("--before and --after: give at most one");
    }
    const sb = connect(values, ctx);
    const page = await sb.history(room, { limit, before, after, signal: ctx.signal });
    for (const message of page.messages) {
      ctx.stdout.write(values.json ? messageJsonLine(message) : formatMessage(message));
    }
    if (page.hasMore && page.messages.length > 0) {
      const next =
        after !== undefined
          ? `--after ${page.messages[page.messages.length - 1]?.offset}`
          : `--before ${page.messages[0]?.offset}`;
      ctx.stderr.write(`more messages: switchboard history ${room} ${next}\n`);
    }
    return exitCodes.ok;
  },
};
