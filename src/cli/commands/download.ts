/**
 * `switchboard download`: fetches a file, resuming and verifying its sha256.
 *
 * @module
 */
import { basename } from "node:path";
import { downloadVerified } from "../../client/node-files.js";
import { expectPositionals, globalHelp, parseCommand } from "../args.js";
import { connect } from "../connection.js";
import { type CliContext, type Command, exitCodes } from "../context.js";
import { formatBytes } from "../format.js";
import { createProgress } from "../progress.js";

const options = {
  output: { type: "string", short: "o" },
  restart: { type: "boolean" },
} as const;

function writeStdout(ctx: CliContext, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    ctx.stdout.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/** `switchboard download`. */
export const downloadCommand: Command = {
  name: "download",
  summary: "download a file by id (resumes, verifies sha256)",
  help: `Usage: switchboard download <file-id> [flags]

Downloads a file (progress on stderr when it is a terminal). A broken
connection resumes from the bytes already received, and an interrupted run
leaves <path>.part that the next run continues. The sha256 is verified at the
end and printed; on mismatch the partial file is removed and the exit code is 1.

Flags:
  -o, --output <path>     where to save; "-" writes to stdout
                          (default: the file's name in the current directory)
  --restart               ignore an existing <path>.part and start over

${globalHelp}`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, options);
    const [fileId] = expectPositionals(positionals, ["file-id"]);
    const sb = connect(values, ctx);
    const progress = createProgress(ctx.stderr, "download");
    const common = {
      signal: ctx.signal,
      onProgress: (n: number, total: number) => progress.update(n, total),
      onRetry: ({ offset, error }: { offset: number; error: Error }) =>
        ctx.stderr.write(`\nconnection lost (${error.message}); resuming at byte ${offset}\n`),
    };
    if (values.output === "-") {
      const { file, sha256 } = await downloadVerified(
        sb,
        fileId,
        (c) => writeStdout(ctx, c),
        common,
      );
      progress.finish();
      ctx.stderr.write(`size: ${file.size}\nsha256: ${sha256}\n`);
      return exitCodes.ok;
    }
    const path =
      values.output ?? basename((await sb.fileInfo(fileId, { signal: ctx.signal })).name);
    const { file, sha256 } = await sb.downloadFile(fileId, path, {
      ...common,
      continuePartial: !values.restart,
    });
    progress.finish();
    ctx.stdout.write(
      `saved: ${path}\nsize: ${file.size} (${formatBytes(Number(file.size))})\nsha256: ${sha256}\n`,
    );
    return exitCodes.ok;
  },
};
