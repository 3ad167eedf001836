/**
 * What every CLI command receives: its arguments' environment, the standard
 * streams and a cancellation signal (SIGINT/SIGTERM). Passing them in keeps
 * commands free of process globals.
 *
 * @module
 */

/** A writable stream (process.stdout/stderr or a test double). */
export interface TextOut {
  /** Writes text or bytes; `callback` runs once the data is flushed or failed. */
  write(chunk: string | Uint8Array, callback?: (err?: Error | null) => void): unknown;
  /** True when attached to a terminal (progress bars only then). */
  readonly isTTY?: boolean;
}

/** Everything a command may use from its process. */
export interface CliContext {
  /** Environment variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: TextOut;
  readonly stderr: TextOut;
  /** Standard input, for `chat` and `send -`. */
  readonly stdin: NodeJS.ReadableStream;
  /** Aborted on SIGINT/SIGTERM: long-running commands finish cleanly. */
  readonly signal: AbortSignal;
}

/** Process exit codes of the CLI. */
export const exitCodes = {
  ok: 0,
  /** The command ran and failed (server error, I/O error, …). */
  runtime: 1,
  /** The command line is wrong (unknown flag, missing argument, bad value). */
  usage: 2,
} as const;

/** The command line is wrong; printed with a hint and exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A CLI command: parsed and run by `main.ts`. */
export interface Command {
  /** Name as typed after `switchboard`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full `--help` text. */
  readonly help: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: string[], ctx: CliContext): Promise<number>;
}
