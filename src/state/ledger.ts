/** The ledger: every file seen, its content hash and its state, so each file is processed exactly once across restarts. */
import type { StateDb } from './state-db.js';
import { storeError } from './state-db.js';
import { cachedStatement } from '../sqlite-statements.js';

/**
 * Life of a file: seen → read → (predicted →) queued → delivered, or rejected / dead / skipped / failed,
 * or `sampled`: predicted (and written to the sinks) but not sent to monitoring by `--sample`.
 */
export type FileState = 'seen' | 'queued' | 'delivered' | 'rejected' | 'dead' | 'skipped' | 'failed' | 'sampled';

/** States after which a file is never processed again (unless its bytes change). */
export const FINAL_STATES: ReadonlySet<FileState> = new Set(['queued', 'delivered', 'rejected', 'dead', 'skipped', 'sampled']);

export interface FileRecord {
  id: number;
  path: string;
  sizeBytes: number;
  mtimeMs: number;
  folder: string;
  sha256: string | null;
  imageId: string | null;
  state: FileState;
  code: string | null;
  reason: string | null;
}

interface Row {
  id: number;
  path: string;
  size_bytes: number;
  mtime_ms: number;
  folder: string;
  sha256: string | null;
  image_id: string | null;
  state: FileState;
  code: string | null;
  reason: string | null;
}

const toRecord = (r: Row): FileRecord => ({
  id: r.id,
  path: r.path,
  sizeBytes: r.size_bytes,
  mtimeMs: r.mtime_ms,
  folder: r.folder,
  sha256: r.sha256,
  imageId: r.image_id,
  state: r.state,
  code: r.code,
  reason: r.reason,
});

/** File identity is (path, size, mtime): a file rewritten in place is a new file. */
export class Ledger {
  readonly #db: StateDb;
  readonly #find;
  readonly #insert;
  readonly #update;
  readonly #bySha;
  readonly #counts;

  constructor(db: StateDb) {
    this.#db = db;
    this.#find = db.prepare<[string, number, number], Row>('SELECT * FROM files WHERE path = ? AND size_bytes = ? AND mtime_ms = ?');
    this.#insert = db.prepare<[string, number, number, string, number, number]>(
      "INSERT INTO files (path, size_bytes, mtime_ms, folder, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'seen', ?, ?) ON CONFLICT DO NOTHING",
    );
    this.#update = db.prepare<{ id: number; state: FileState; code: string | null; reason: string | null; sha256: string | null; imageId: string | null; now: number }>(
      'UPDATE files SET state = @state, code = @code, reason = @reason, sha256 = COALESCE(@sha256, sha256), image_id = COALESCE(@imageId, image_id), updated_at = @now WHERE id = @id',
    );
    this.#bySha = db.prepare<[string, number], Row>(
      "SELECT * FROM files WHERE sha256 = ? AND id != ? AND state IN ('queued', 'delivered', 'dead', 'sampled') ORDER BY id LIMIT 1",
    );
    this.#counts = db.prepare<[], { state: FileState; n: number }>('SELECT state, COUNT(*) AS n FROM files GROUP BY state');
  }

  /** The record of this exact file version, if any. */
  find(path: string, sizeBytes: number, mtimeMs: number): FileRecord | undefined {
    const row = this.#find.get(path, sizeBytes, mtimeMs);
    return row ? toRecord(row) : undefined;
  }

  /** True when this file version needs no more work. */
  isDone(path: string, sizeBytes: number, mtimeMs: number): boolean {
    const rec = this.find(path, sizeBytes, mtimeMs);
    return rec !== undefined && FINAL_STATES.has(rec.state);
  }

  /** The record with this id. */
  get(id: number): FileRecord | undefined {
    const row = cachedStatement<[number], Row>(this.#db, 'SELECT * FROM files WHERE id = ?').get(id);
    return row ? toRecord(row) : undefined;
  }

  /** Records a file version as seen (idempotent) and returns its record. */
  see(path: string, sizeBytes: number, mtimeMs: number, folder: string): FileRecord {
    try {
      const now = Date.now() / 1000;
      this.#insert.run(path, sizeBytes, mtimeMs, folder, now, now);
      return this.find(path, sizeBytes, mtimeMs) as FileRecord;
    } catch (cause) {
      throw storeError(cause, `record ${path} in the ledger`);
    }
  }

  /** Moves a file to `state`, with an optional error code and reason. */
  mark(id: number, state: FileState, extra: { code?: string; reason?: string; sha256?: string; imageId?: string } = {}): void {
    try {
      this.#update.run({ id, state, code: extra.code ?? null, reason: extra.reason ?? null, sha256: extra.sha256 ?? null, imageId: extra.imageId ?? null, now: Date.now() / 1000 });
    } catch (cause) {
      throw storeError(cause, 'update the ledger');
    }
  }

  /** Another file with the same bytes that was already monitored (or is on its way). */
  sameBytes(sha256: string, exceptId: number): FileRecord | undefined {
    const row = this.#bySha.get(sha256, exceptId);
    return row ? toRecord(row) : undefined;
  }

  /** Runs `fn` in one transaction of the state database. */
  transaction<T>(fn: () => T): T {
    try {
      return this.#db.transaction(fn)();
    } catch (cause) {
      throw (cause as { code?: string }).code?.startsWith('EW_') ? cause : storeError(cause, 'update the ledger');
    }
  }

  /** Number of files per state. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.#counts.all().map((r) => [r.state, r.n]));
  }
}
