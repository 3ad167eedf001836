/**
 * Turns any failure into one clear stderr line and an exit code.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { errorCodeName } from "../client/errors.js";
import { exitCodes, UsageError } from "./context.js";

/** What `main` prints and returns for a failure. */
export interface FailureReport {
  /** Lines for stderr, newline-terminated. */
  readonly text: string;
  readonly exitCode: number;
}

/**
 * Describes a failure: `error: <code>: <message>` for RPC errors, a usage hint
 * for usage errors (exit 2), `error: <message>` otherwise (exit 1).
 *
 * @example
 * const { text, exitCode } = describeFailure(err, "send");
 */
export function describeFailure(err: unknown, command: string | undefined): FailureReport {
  if (err instanceof UsageError || (err instanceof Error && err.name === "ConfigError")) {
    const hint = command ? `switchboard ${command} --help` : "switchboard --help";
    return { text: `error: ${err.message}\nrun '${hint}' for usage\n`, exitCode: exitCodes.usage };
  }
  if (err instanceof ConnectError) {
    let text = `error: ${errorCodeName(err)}: ${err.rawMessage}`;
    if (err.code === Code.Unavailable) text += " (is the server running? see --server)";
    if (err.code === Code.Unauthenticated) text += " (check --token / SWITCHBOARD_TOKEN)";
    return { text: `${text}\n`, exitCode: exitCodes.runtime };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { text: `error: ${message}\n`, exitCode: exitCodes.runtime };
}
