/**
 * The `switchboard` command line: dispatches to one command per file in
 * ./commands, maps failures to one stderr line and an exit code (2 usage,
 * 1 runtime).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { globalHelp, globalOptions } from "./args.js";
import { chatCommand } from "./commands/chat.js";
import { downloadCommand } from "./commands/download.js";
import { historyCommand } from "./commands/history.js";
import { sendCommand } from "./commands/send.js";
import { serveCommand } from "./commands/serve.js";
import { tailCommand } from "./commands/tail.js";
import { tokenCommand } from "./commands/token.js";
import { uploadCommand } from "./commands/upload.js";
import { type CliContext, type Command, exitCodes, UsageError } from "./context.js";
import { describeFailure } from "./errors.js";

/** Every command, in help order. */
export const commands: readonly Command[] = [
  serveCommand,
  tokenCommand,
  sendCommand,
  tailCommand,
  chatCommand,
  historyCommand,
  uploadCommand,
  downloadCommand,
];

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const list = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n");
  return `Usage: switchboard <command> [flags]

Switchboard: real-time rooms over gRPC, gRPC-Web and Connect.

Commands:
${list}

Run 'switchboard <command> --help' for a command's flags.

${globalHelp}
`;
}

/**
 * Finds the command name: the first positional argument, global flags (with
 * their values) may come before it. Returns its index, or -1.
 */
function commandIndex(argv: string[]): number {
  const { tokens } = parseArgs({
    args: argv,
    options: globalOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = tokens.find((t) => t.kind === "positional" || t.kind === "option-terminator");
  return first?.kind === "positional" ? first.index : -1;
}

/**
 * Runs the CLI with `argv` (without node and script) and resolves to the exit
 * code. Never throws.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), ctx);
 */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  let name: string | undefined;
  try {
    const index = commandIndex(argv);
    if (index < 0) {
      if (argv.includes("--help") || argv.includes("-h") || argv.length === 0) {
        ctx.stdout.write(overview());
        return argv.length === 0 ? exitCodes.usage : exitCodes.ok;
      }
      throw new UsageError("missing command");
    }
    name = argv[index];
    const rest = [...argv.slice(0, index), ...argv.slice(index + 1)];
    if (name === "help") {
      const topic = commands.find((c) => c.name === rest.find((a) => !a.startsWith("-")));
      ctx.stdout.write(topic ? `${topic.help}\n` : overview());
      return exitCodes.ok;
    }
    const command = commands.find((c) => c.name === name);
    if (!command) {
      name = undefined;
      throw new UsageError(`unknown command "${argv[index]}"`);
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      ctx.stdout.write(`${command.help}\n`);
      return exitCodes.ok;
    }
    return await command.run(rest, ctx);
  } catch (err) {
    if (ctx.signal.aborted && !(err instanceof UsageError)) return 130;
    const { text, exitCode } = describeFailure(err, name);
    ctx.stderr.write(text);
    return exitCode;
  }
}

/**
 * Runs the CLI in this process: real streams and environment, SIGINT/SIGTERM
 * abort the command (a second signal exits at once), then exits with the
 * command's code.
 */
export async function main(): Promise<void> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error(`received ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const code = await runCli(process.argv.slice(2), {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    signal: controller.signal,
  });
  process.exit(code);
}
