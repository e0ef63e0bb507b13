/** Shadow work deferred behind the champion: what the shadow still has to predict, kept across restarts until it is queued as a late shadow or shed. */
import { cachedStatement } from '../sqlite-statements.js';
import { storeError, type StateDb } from './state-db.js';

/** One image whose shadow prediction is still to be made (its champion's prediction is in the outbox or delivered). */
export interface PendingShadow {
  imageId: string;
  fileId: number;
  /** Where the image is read again when its decoded input is no longer in memory (after a restart). */
  path: string;
  sizeBytes: number;
  mtimeMs: number;
  /** Content hash: the file read again must be the same image. */
  sha256: string;
  /** Epoch seconds of the capture (outbox order). */
  capturedAt: number;
  /** Epoch seconds when the shadow fell behind (the lag bound counts from here). */
  deferredAt: number;
}

interface Row {
  image_id: string;
  file_id: number;
  path: string;
  size_bytes: number;
  mtime_ms: number;
  sha256: string;
  captured_at: number;
  deferred_at: number;
}

const toPending = (r: Row): PendingShadow => ({
  imageId: r.image_id,
  fileId: r.file_id,
  path: r.path,
  sizeBytes: r.size_bytes,
  mtimeMs: r.mtime_ms,
  sha256: r.sha256,
  capturedAt: r.captured_at,
  deferredAt: r.deferred_at,
});

/** The `shadow_pending` table. Every method is one statement (callers put `add` in the champion's outbox transaction). */
export class ShadowPendingStore {
  readonly #db: StateDb;

  constructor(db: StateDb) {
    this.#db = db;
  }

  /** Records deferred work (idempotent per image id). */
  add(p: PendingShadow): void {
    try {
      cachedStatement(
        this.#db,
        'INSERT OR IGNORE INTO shadow_pending (image_id, file_id, path, size_bytes, mtime_ms, sha256, captured_at, deferred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(p.imageId, p.fileId, p.path, p.sizeBytes, p.mtimeMs, p.sha256, p.capturedAt, p.deferredAt);
    } catch (cause) {
      throw storeError(cause, 'record deferred shadow work');
    }
  }

  /** Forgets it (queued as a late shadow, or shed). */
  remove(imageId: string): void {
    try {
      cachedStatement(this.#db, 'DELETE FROM shadow_pending WHERE image_id = ?').run(imageId);
    } catch (cause) {
      throw storeError(cause, 'forget deferred shadow work');
    }
  }

  /** Everything pending, oldest capture first. */
  all(): PendingShadow[] {
    return cachedStatement<[], Row>(this.#db, 'SELECT * FROM shadow_pending ORDER BY captured_at, image_id').all().map(toPending);
  }

  /** Runs `fn` in one transaction of the state database. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }
}
