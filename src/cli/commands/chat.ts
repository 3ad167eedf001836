/**
 * `switchboard chat`: an interactive session over the bidirectional Chat
 * stream. Lines from stdin are sent; messages and presence are printed.
 *
 * @module
 */
import { createInterface } from "node:readline";
import type { ChatSession } from "../../client/chat-session.js";
import { errorCodeName } from "../../client/errors.js";
import { PresenceKind, type RoomJoined } from "../../gen/switchboard/chat/v1/chat_pb.js";
import { expectPositionals, globalHelp, parseCommand } from "../args.js";
import { connect } from "../connection.js";
import { type CliContext, type Command, exitCodes, UsageError } from "../context.js";
import { formatMessage } from "../format.js";
import { parseFrom } from "./tail.js";

const options = {
  from: { type: "string", default: "latest" },
} as const;

/** How long to wait for the server to end the stream after we closed our side. */
const closeGraceMs = 3000;

const commandsHelp =
  "commands: /join <room>, /leave [room], /quit (messages go to the last joined room)";

function describeFailure(err: unknown): string {
  return err instanceof Error && err.name === "ChatRequestError"
    ? err.message
    : `${errorCodeName(err)}: ${err instanceof Error ? err.message : String(err)}`;
}

function printJoined(ctx: CliContext, joined: RoomJoined): void {
  const names = joined.members.map((m) => m.displayName || m.id).join(", ") || "nobody";
  ctx.stdout.write(`* joined ${joined.state?.room ?? "?"} (here: ${names})\n`);
}

/** Prints what the server sends until the stream ends. */
async function printEvents(session: ChatSession, ctx: CliContext): Promise<void> {
  for await (const ev of session.events) {
    switch (ev.case) {
      case "message":
        ctx.stdout.write(formatMessage(ev.value));
        break;
      case "presence": {
        const who = ev.value.user?.displayName || ev.value.user?.id || "?";
        const what = ev.value.kind === PresenceKind.JOIN ? "joined" : "left";
        ctx.stdout.write(`* ${who} ${what} ${ev.value.room}\n`);
        break;
      }
      case "left":
        ctx.stdout.write(`* left ${ev.value.room}\n`);
        break;
      default:
        break;
    }
  }
}

/** Handles one input line; returns false on /quit. */
async function handleLine(
  line: string,
  session: ChatSession,
  state: { room: string | undefined },
  ctx: CliContext,
): Promise<boolean> {
  const text = line.trimEnd();
  if (text === "") return true;
  const [cmd, arg] = text.split(/\s+/, 2);
  try {
    if (cmd === "/quit" || cmd === "/exit") return false;
    if (cmd === "/join" && arg) {
      printJoined(ctx, await session.join(arg));
      state.room = arg;
    } else if (cmd === "/leave") {
      const room = arg ?? state.room;
      if (room) await session.leave(room);
      if (room === state.room) state.room = undefined;
    } else if (cmd?.startsWith("/") && !cmd.startsWith("//")) {
      ctx.stderr.write(`${commandsHelp}\n`);
    } else if (state.room === undefined) {
      ctx.stderr.write("not in a room: /join <room> first\n");
    } else {
      await session.send(state.room, text.startsWith("//") ? text.slice(1) : text);
    }
  } catch (err) {
    ctx.stderr.write(`error: ${describeFailure(err)}\n`);
  }
  return true;
}

/** `switchboard chat`. */
export const chatCommand: Command = {
  name: "chat",
  summary: "interactive chat in a room (stdin lines are sent)",
  help: `Usage: switchboard chat <room> [flags]

Joins the room and prints its messages and who comes and goes. Each line
typed (or piped) on stdin is sent to the last joined room. End with /quit,
Ctrl-D or Ctrl-C.
  ${commandsHelp}
  a line starting with // sends the text with one slash removed

Flags:
  --from <pos>            history to show first: latest (default) | beginning
                          | <offset> | last:<K>

${globalHelp}`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, options);
    const [room] = expectPositionals(positionals, ["room"]);
    const from = parseFrom(values.from);
    if (values["http-version"] === "1.1") {
      throw new UsageError("--http-version: chat streams both ways and needs HTTP/2");
    }
    const sb = connect(values, ctx);
    const controller = new AbortController();
    const abort = () => controller.abort(ctx.signal.reason);
    ctx.signal.addEventListener("abort", abort, { once: true });
    const session = sb.chat({ signal: controller.signal });
    const printing = printEvents(session, ctx);
    printing.catch(() => {});
    printJoined(ctx, await session.join(room, from));
    const state: { room: string | undefined } = { room };
    const input = createInterface({ input: ctx.stdin, terminal: false });
    const stop = () => input.close();
    ctx.signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const line of input) {
        if (!(await handleLine(line, session, state, ctx))) break;
      }
    } finally {
      ctx.signal.removeEventListener("abort", stop);
      input.close();
      session.close();
    }
    // The server ends the stream after our half-close; don't wait forever.
    const timer = setTimeout(() => controller.abort(), closeGraceMs);
    try {
      await printing;
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", abort);
    }
    return exitCodes.ok;
  },
};
