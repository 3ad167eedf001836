/**
 * The SQLite backend: durable history and files in one data directory,
 * fan-out and presence in this process (one server process per directory).
 *
 * @module
 */
import { createInProcessFanOut } from "../memory/fan-out.js";
import { createInProcessPresence } from "../memory/presence.js";
import type { Backend } from "../types.js";
import { createSqliteBlobStore } from "./blob-store.js";
import { openDatabase, sqliteLayout } from "./database.js";
import { createSqliteMessageLog } from "./message-log.js";
import { readDatabaseEpoch } from "./schema.js";

export { type SqliteLayout, sqliteLayout } from "./database.js";
export { schemaVersion } from "./schema.js";

/** Options of {@link createSqliteBackend}. */
export interface SqliteBackendOptions {
  /** Directory holding `switchboard.db`, `files/` and `tmp/`; created (mode 0700) when missing. */
  readonly dataDir: string;
}

/**
 * Opens (creating when needed) the SQLite backend in `dataDir`. An append
 * resolves once committed with `synchronous=FULL` (appends of one event-loop
 * turn share a commit, see group-commit.ts); a file once fsynced and renamed
 * into `files/`. Leftover upload temp files are deleted at open. `close()`
 * first commits the appends still queued, then ends subscriptions.
 *
 * @example
 * const backend = createSqliteBackend({ dataDir: "./data" });
 * await backend.log.append({ room: "lobby", sender, text: "hi", attachments: [], clientMessageId: "" });
 * await backend.close();
 */
export function createSqliteBackend(options: SqliteBackendOptions): Backend {
  const layout = sqliteLayout(options.dataDir);
  const db = openDatabase(layout);
  let closed = false;
  const isClosed = () => closed;
  const fanout = createInProcessFanOut();
  const presence = createInProcessPresence();
  const log = createSqliteMessageLog({
    db,
    epoch: readDatabaseEpoch(db),
    publish: (message) => fanout.publish(message),
    isClosed,
  });
  const blobs = createSqliteBlobStore({ db, layout, isClosed });
  const backend: Backend = {
    kind: "sqlite",
    log,
    fanout,
    blobs,
    presence,
    health() {
      return closed ? { ready: false, reason: "backend closed" } : { ready: true, reason: "" };
    },
    async close() {
      if (closed) return;
      closed = true;
      // Appends accepted before close() are committed and published, not dropped.
      log.flush();
      fanout.close();
      presence.close();
      await blobs.abortAll();
      db.close();
    },
  };
  return backend;
}
