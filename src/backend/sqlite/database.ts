/**
 * Opening the SQLite data directory: layout, private permissions, pragmas,
 * migrations, and sweeping what a crash may have left behind.
 *
 * @module
 */
import { closeSync, mkdirSync, openSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3, { type Database } from "better-sqlite3";
import { BackendUnavailableError } from "../errors.js";
import { migrate } from "./schema.js";

/** Where the SQLite backend keeps things under its data directory. */
export interface SqliteLayout {
  readonly dataDir: string;
  /** `<dataDir>/switchboard.db` (plus its -wal and -shm files). */
  readonly dbFile: string;
  /** `<dataDir>/files`: committed file bytes, one file per id. */
  readonly filesDir: string;
  /** `<dataDir>/tmp`: uploads in progress; emptied at open. */
  readonly tmpDir: string;
}

/** Milliseconds a statement waits for a lock held by another connection. */
export const busyTimeoutMs = 5000;

/**
 * Paths of a data directory's parts.
 *
 * @example
 * sqliteLayout("./data").dbFile; // "data/switchboard.db"
 */
export function sqliteLayout(dataDir: string): SqliteLayout {
  return {
    dataDir,
    dbFile: join(dataDir, "switchboard.db"),
    filesDir: join(dataDir, "files"),
    tmpDir: join(dataDir, "tmp"),
  };
}

/**
 * Creates the data directory (mode 0700) with its `files/` and `tmp/`
 * subdirectories, creates the database file with mode 0600 when missing,
 * opens it in WAL mode with `synchronous=FULL` (a commit is durable) and a
 * busy timeout, migrates the schema, deletes leftover upload temp files and
 * committed bytes that have no metadata row (a crash between rename and
 * insert).
 *
 * @example
 * const db = openDatabase(sqliteLayout("./data"));
 */
export function openDatabase(layout: SqliteLayout): Database {
  for (const dir of [layout.dataDir, layout.filesDir, layout.tmpDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  closeSync(openSync(layout.dbFile, "a", 0o600));
  const db = new BetterSqlite3(layout.dbFile);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma("foreign_keys = ON");
    migrate(db);
    db.defaultSafeIntegers(true);
    sweep(db, layout);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function sweep(db: Database, layout: SqliteLayout): void {
  for (const name of readdirSync(layout.tmpDir)) {
    rmSync(join(layout.tmpDir, name), { recursive: true, force: true });
  }
  const known = db.prepare("SELECT 1 FROM files WHERE id = ?").pluck();
  for (const name of readdirSync(layout.filesDir)) {
    if (known.get(name) === undefined) rmSync(join(layout.filesDir, name), { force: true });
  }
}

/**
 * Maps SQLite lock contention to {@link BackendUnavailableError} (retrying
 * later may work); other errors pass through unchanged.
 */
export function mapSqliteError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED") {
    return new BackendUnavailableError("database is busy", { cause: error });
  }
  return error;
}
