/** Opens the agent's state database (SQLite, WAL, synchronous NORMAL) and applies its schema. */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EdgewatchError } from '../errors.js';

export type StateDb = Database.Database;

const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  folder TEXT NOT NULL,
  sha256 TEXT,
  image_id TEXT,
  state TEXT NOT NULL,
  code TEXT,
  reason TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  UNIQUE (path, size_bytes, mtime_ms)
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files (sha256);
CREATE INDEX IF NOT EXISTS files_image_id ON files (image_id);
CREATE TABLE IF NOT EXISTS outbox (
  image_id TEXT PRIMARY KEY,
  file_id INTEGER NOT NULL,
  body BLOB NOT NULL,
  body_bytes INTEGER NOT NULL,
  captured_at REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  created_at REAL NOT NULL,
  parent_id TEXT
);
CREATE INDEX IF NOT EXISTS outbox_parent ON outbox (parent_id);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at, captured_at);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (captured_at, created_at);
CREATE TABLE IF NOT EXISTS dead_letter (
  image_id TEXT PRIMARY KEY,
  file_id INTEGER NOT NULL,
  body BLOB NOT NULL,
  captured_at REAL NOT NULL,
  attempts INTEGER NOT NULL,
  status INTEGER,
  code TEXT NOT NULL,
  message TEXT NOT NULL,
  died_at REAL NOT NULL,
  parent_id TEXT
);
CREATE TABLE IF NOT EXISTS delivered (
  image_id TEXT PRIMARY KEY,
  file_id INTEGER NOT NULL,
  prediction_id TEXT,
  status INTEGER NOT NULL,
  delivered_at REAL NOT NULL,
  parent_id TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shadow_pending (
  image_id TEXT PRIMARY KEY,
  file_id INTEGER NOT NULL,
  path TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  sha256 TEXT NOT NULL,
  captured_at REAL NOT NULL,
  deferred_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS shadow_pending_order ON shadow_pending (captured_at);
CREATE TABLE IF NOT EXISTS sink_pending (
  id INTEGER PRIMARY KEY,
  sink TEXT NOT NULL,
  image_id TEXT NOT NULL,
  record TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL,
  last_error TEXT,
  created_at REAL NOT NULL,
  UNIQUE (sink, image_id)
);
CREATE INDEX IF NOT EXISTS sink_pending_due ON sink_pending (sink, next_attempt_at, id);
CREATE TABLE IF NOT EXISTS sink_dead (
  id INTEGER PRIMARY KEY,
  sink TEXT NOT NULL,
  image_id TEXT NOT NULL,
  record TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  code TEXT NOT NULL,
  message TEXT NOT NULL,
  died_at REAL NOT NULL,
  UNIQUE (sink, image_id)
);
`;

/**
 * What brings a database of version N-1 to version N. Version 2: a late shadow prediction is an
 * outbox entry whose `parent_id` is the image id of the champion's prediction (sent once that one
 * is delivered); `shadow_pending` (created by SCHEMA) holds shadow work deferred behind the champion.
 * Version 3: `sink_pending` and `sink_dead` (created by SCHEMA) hold each result sink's records, and
 * a file may be in the new ledger state `sampled` (predicted, not sent to monitoring): no change to
 * existing tables.
 */
const MIGRATIONS: Record<number, string> = {
  2: 'ALTER TABLE outbox ADD COLUMN parent_id TEXT; ALTER TABLE dead_letter ADD COLUMN parent_id TEXT; ALTER TABLE delivered ADD COLUMN parent_id TEXT;',
  3: '',
};

/** Maps SQLite failures to typed errors: a full disk is its own code. */
export function storeError(cause: unknown, what: string): EdgewatchError {
  const code = (cause as { code?: string }).code ?? '';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    return new EdgewatchError('EW_DISK_FULL', `The disk is full: cannot ${what}. Free space on the state folder's disk; nothing was lost, the agent retries.`, { cause });
  }
  return new EdgewatchError('EW_STORE_OPEN', `State database error while trying to ${what}: ${(cause as Error).message}.`, { cause });
}

/**
 * Opens (creating if needed) `<stateDir>/edgewatch.db`. The database holds request bodies (images,
 * metadata): a folder this creates is 0700, the database 0600 (SQLite gives its -wal and -shm files the
 * database's mode), also when an earlier version created it 0644.
 */
export function openStateDb(stateDir: string): StateDb {
  let db: StateDb;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, 'edgewatch.db');
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a crash of the process (SIGKILL) at once and a power cut
    // once checkpointed. A power cut may lose only the last commits, which is safe here because the
    // image stays in its folder until its delivery is recorded and every send is idempotent (409):
    // lost work is redone, never lost. FULL would fsync on every commit, blocking the event loop.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    // The outbox holds whole request bodies (the image in base64) for about a second each: with the
    // default 1,000-page WAL every body was copied into the main file at a checkpoint soon after it
    // was written, and again when freed. A 40 MB WAL lets most bodies be inserted and deleted between
    // two checkpoints (measured: 1.9 → 0.9 ms per 270 KB enqueue); the file is cut back to 64 MB after one.
    db.pragma('wal_autocheckpoint = 10000');
    db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`database schema version ${version} is newer than this agent's (${SCHEMA_VERSION}); upgrade edgewatch`);
    }
    db.transaction(() => {
      // A database of an earlier version is brought up to date first; a new one is created as is.
      if (version > 0) for (let v = version + 1; v <= SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  } catch (cause) {
    throw new EdgewatchError('EW_STORE_OPEN', `Cannot open the state database in ${stateDir}: ${(cause as Error).message}. Check --state-dir is writable.`, {
      cause,
      details: { stateDir },
    });
  }
  return db;
}
