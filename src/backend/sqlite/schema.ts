/**
 * SQLite schema and its migrations. The schema version lives in
 * `PRAGMA user_version`; {@link migrate} applies the missing steps in one
 * transaction, so a database is always at a known version.
 *
 * @module
 */
import type { Database } from "better-sqlite3";

/** One migration step: from version `index` to `index + 1`. */
type Migration = (db: Database) => void;

/**
 * Migration steps, in order. Never edit a step that has shipped; add one.
 *
 * v1: `meta` (database-wide values, including the database epoch), `rooms`
 * (epoch, head offset, trimmed-through per room), `messages` (unique
 * idempotency index on non-empty keys), `files` (blob metadata).
 * v2: `messages.traceparent` (W3C trace context of the Send that stored the
 * message; "" when untraced), for delivery spans linked to it.
 */
const migrations: readonly Migration[] = [
  (db) => {
    db.exec(`
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
      CREATE TABLE rooms (
        room TEXT PRIMARY KEY,
        epoch TEXT NOT NULL,
        head_offset INTEGER NOT NULL,
        trimmed_through INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE TABLE messages (
        room TEXT NOT NULL,
        msg_offset INTEGER NOT NULL,
        id TEXT NOT NULL UNIQUE,
        sender_id TEXT NOT NULL,
        sender_name TEXT NOT NULL,
        text TEXT NOT NULL,
        attachments TEXT NOT NULL,
        time INTEGER NOT NULL,
        client_message_id TEXT NOT NULL,
        PRIMARY KEY (room, msg_offset)
      ) STRICT;
      CREATE UNIQUE INDEX messages_idempotency
        ON messages (room, sender_id, client_message_id)
        WHERE client_message_id <> '';
      CREATE TABLE files (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        room TEXT NOT NULL,
        uploader_id TEXT NOT NULL,
        uploader_name TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
    `);
    db.prepare("INSERT INTO meta (key, value) VALUES ('epoch', ?)").run(
      globalThis.crypto.randomUUID(),
    );
  },
  (db) => {
    db.exec("ALTER TABLE messages ADD COLUMN traceparent TEXT NOT NULL DEFAULT ''");
  },
];

/** The schema version this code writes. */
export const schemaVersion = migrations.length;

/**
 * Brings a database to {@link schemaVersion}. Refuses a database written by a
 * newer version of Switchboard.
 *
 * @example
 * migrate(new Database(file)); // PRAGMA user_version is now schemaVersion
 */
export function migrate(db: Database): void {
  const apply = db.transaction(() => {
    const current = Number(db.pragma("user_version", { simple: true }));
    if (current > migrations.length) {
      throw new Error(
        `database schema version ${current} is newer than this server supports (${migrations.length})`,
      );
    }
    for (let v = current; v < migrations.length; v++) {
      migrations[v]!(db);
      db.pragma(`user_version = ${v + 1}`);
    }
  });
  apply.immediate();
}

/**
 * The database-wide epoch, created with the database. Every room starts in
 * it, so it changes exactly when the database (the history) is lost.
 */
export function readDatabaseEpoch(db: Database): string {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'epoch'").get() as
    | { value: string }
    | undefined;
  if (!row) throw new Error("database has no epoch (meta table damaged)");
  return row.value;
}
