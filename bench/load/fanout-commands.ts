/**
 * The child side of a load process's control channel: one JSON command per
 * stdin line `{"id":N,"cmd":"name",...args}`, one JSON reply per stdout line
 * `{"id":N,"ok":true,"result":…}` or `{"id":N,"ok":false,"error":"…"}`.
 * The process exits when stdin ends (the parent went away or is done).
 * The parent side is fanout-child.ts.
 *
 * @module
 */
import { createInterface } from "node:readline";

/** A command handler: gets the command's fields, returns the result (JSON-able). */
export type CommandHandler = (args: Readonly<Record<string, unknown>>) => unknown;

/**
 * Serves `handlers` on stdin/stdout until stdin ends, then runs `onEnd`
 * (default: exit the process).
 *
 * @example
 * serveCommands({ mark: () => { counters.reset(); return {}; } });
 */
export function serveCommands(
  handlers: Readonly<Record<string, CommandHandler>>,
  onEnd: () => void = () => process.exit(0),
): void {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (line.trim() === "") return;
    const command = JSON.parse(line) as { id: number; cmd: string } & Record<string, unknown>;
    const handler = handlers[command.cmd];
    const reply = (body: Record<string, unknown>) =>
      process.stdout.write(`${JSON.stringify({ id: command.id, ...body })}\n`);
    if (handler === undefined) {
      reply({ ok: false, error: `unknown command ${command.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(command))
      .then(
        (result) => reply({ ok: true, result: result ?? null }),
        (e: unknown) => reply({ ok: false, error: e instanceof Error ? e.message : String(e) }),
      );
  });
  lines.on("close", onEnd);
}

/**
 * Reads the process's configuration: the JSON in `process.argv[2]`.
 *
 * @example
 * const config = readConfig<SubscribersConfig>();
 */
export function readConfig<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error("expected the configuration as JSON in argv[2]");
  return JSON.parse(raw) as T;
}
