/**
 * `switchboard tail`: follows rooms, resuming by itself after disconnects.
 *
 * @module
 */

import { errorCodeName } from "../../client/errors.js";
import type { StartPosition } from "../../client/index.js";
import { expectPositionals, globalHelp, parseCommand, parseInteger } from "../args.js";
import { connect } from "../connection.js";
import { type Command, exitCodes, UsageError } from "../context.js";
import { formatMessage, messageJsonLine } from "../format.js";

const options = {
  from: { type: "string", default: "latest" },
  json: { type: "boolean" },
  count: { type: "string", short: "n" },
} as const;

/**
 * Parses `--from`: latest | beginning | <offset> | last:<K>.
 *
 * @example
 * parseFrom("last:10"); // { kind: "last", count: 10 }
 */
export function parseFrom(raw: string): StartPosition {
  if (raw === "latest") return { kind: "latest" };
  if (raw === "beginning") return { kind: "beginning" };
  const last = /^last:(\d{1,9})$/.exec(raw);
  if (last) return { kind: "last", count: Number(last[1]) };
  if (/^\d{1,20}$/.test(raw)) return { kind: "after", offset: BigInt(raw) };
  throw new UsageError(`--from: must be latest, beginning, <offset> or last:<K>, got "${raw}"`);
}

/** `switchboard tail`. */
export const tailCommand: Command = {
  name: "tail",
  summary: "print a room's messages as they arrive (resumes after disconnects)",
  help: `Usage: switchboard tail <room> [room...] [flags]

Prints messages of the rooms as they arrive. After a disconnect or a server
restart it reconnects (notes on stderr) and resumes exactly where it stopped:
no message is missed or printed twice. Stops on Ctrl-C.

Flags:
  --from <pos>            latest (default) | beginning | <offset> (messages after it)
                          | last:<K> (the last K messages first)
  -n, --count <n>         exit after printing n messages
  --json                  one JSON object per message

${globalHelp}`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, options);
    const rooms = expectPositionals(positionals, ["room"], true);
    const from = parseFrom(values.from);
    const count = parseInteger("--count", values.count, 1);
    const sb = connect(values, ctx);
    let printed = 0;
    const events = sb.subscribe(
      rooms.map((room) => ({ room, from })),
      { signal: ctx.signal },
    );
    for await (const ev of events) {
      switch (ev.type) {
        case "message":
          ctx.stdout.write(values.json ? messageJsonLine(ev.message) : formatMessage(ev.message));
          printed++;
          if (count !== undefined && printed >= count) return exitCodes.ok;
          break;
        case "state":
          if (ev.resumed) ctx.stderr.write(`resumed ${ev.state.room}\n`);
          if (!ev.state.recovered) {
            ctx.stderr.write(
              `warning: ${ev.state.room}: history could not be continued exactly (epoch changed or trimmed); replaying what is retained\n`,
            );
          }
          break;
        case "reconnecting":
          ctx.stderr.write(
            `reconnecting in ${ev.delayMs} ms (attempt ${ev.attempt}): ${errorCodeName(ev.error)}: ${ev.error.rawMessage}\n`,
          );
          break;
        case "heartbeat":
          break;
      }
    }
    return exitCodes.ok;
  },
};
