/**
 * `switchboard send`: posts a message, uploading attachments first.
 *
 * @module
 */
import { text as readAll } from "node:stream/consumers";
import { expectPositionals, globalHelp, parseCommand } from "../args.js";
import { connect } from "../connection.js";
import { type Command, exitCodes } from "../context.js";
import { formatBytes, messageJsonLine } from "../format.js";
import { createProgress } from "../progress.js";

const options = {
  file: { type: "string", short: "f", multiple: true },
  "client-id": { type: "string" },
  json: { type: "boolean" },
} as const;

/** `switchboard send`. */
export const sendCommand: Command = {
  name: "send",
  summary: "send a message (optionally with files) to a room",
  help: `Usage: switchboard send <room> <text|-> [flags]

Sends one message; "-" reads the text from stdin. Retries transient failures
with the same client message id, so the message is stored once.

Flags:
  -f, --file <path>       upload and attach a file, repeatable
  --client-id <id>        idempotency key (default: random UUID)
  --json                  print the stored message as JSON

${globalHelp}`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommand(argv, options);
    const [room, rawText] = expectPositionals(positionals, ["room", "text"]);
    const sb = connect(values, ctx);
    const text = rawText === "-" ? (await readAll(ctx.stdin)).replace(/\n$/, "") : rawText;
    const attachmentFileIds: string[] = [];
    for (const path of values.file ?? []) {
      const progress = createProgress(ctx.stderr, `upload ${path}`);
      const file = await sb.uploadFile(path, {
        room,
        signal: ctx.signal,
        onProgress: (n, total) => progress.update(n, total),
      });
      progress.finish();
      ctx.stderr.write(`uploaded ${file.name} (${formatBytes(Number(file.size))}) id ${file.id}\n`);
      attachmentFileIds.push(file.id);
    }
    const res = await sb.send(room, text, {
      attachmentFileIds,
      clientMessageId: values["client-id"],
      signal: ctx.signal,
      onRetry: ({ delayMs, error }) =>
        ctx.stderr.write(`send failed (${error.rawMessage}); retrying in ${delayMs} ms\n`),
    });
    const message = res.message;
    if (values.json && message) {
      ctx.stdout.write(messageJsonLine(message));
    } else if (message) {
      const dup = res.duplicate ? " (already stored)" : "";
      ctx.stdout.write(
        `sent to ${message.room} at offset ${message.offset}, id ${message.id}${dup}\n`,
      );
    }
    return exitCodes.ok;
  },
};
