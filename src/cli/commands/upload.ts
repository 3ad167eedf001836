/**
 * `switchboard upload`: stores a file and prints its id, size and sha256.
 *
 * @module
 */
import { expectPositionals, globalHelp, parseCommand } from "../args.js";
import { connect } from "../connection.js";
import { type Command, exitCodes } from "../context.js";
import { fileJsonLine, formatFileInfo } from "../format.js";
import { createProgress } from "../progress.js";

const options = {
  room: { type: "string" },
  "content-type": { type: "string" },
  name: { type: "string" },
  json: { type: "boolean" },
} as const;

/** `switchboard upload`. */
export const uploadCommand: Command = {
  name: "upload",
  summary: "upload a file; prints its id, size and sha256",
  help: `Usage: switchboard upload <path> [flags]

Uploads a file in chunks (progress on stderr when it is a terminal) and prints
its id, size and sha256. Attach it with 'switchboard send <room> <text> --file'
or pass the id to 'switchboard download'.

Flags:
  --room <room>           room the file is meant for (needs publish permission)
  --content-type <mime>   MIME type (default: guessed from the extension)
  --name <name>           stored file name (default: the path's base name)
  --json                  print the file description as JSON

${globalHelp}`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, options);
    const [path] = expectPositionals(positionals, ["path"]);
    const sb = connect(values, ctx);
    const progress = createProgress(ctx.stderr, "upload");
    const file = await sb.uploadFile(path, {
      room: values.room,
      contentType: values["content-type"],
      name: values.name,
      signal: ctx.signal,
      onProgress: (n, total) => progress.update(n, total),
    });
    progress.finish();
    ctx.stdout.write(values.json ? fileJsonLine(file) : formatFileInfo(file));
    return exitCodes.ok;
  },
};
