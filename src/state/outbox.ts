/** The durable outbox: serialised monitor requests committed before the first send, drained by the sender, with a dead-letter table. */
import type { StateDb } from './state-db.js';
import { storeError } from './state-db.js';
import { cachedStatement } from '../sqlite-statements.js';

/** One queued request, exactly the bytes that will be sent. */
export interface OutboxEntry {
  imageId: string;
  fileId: number;
  /** For a late shadow prediction: the image id of the champion's prediction it completes (sent once that one is delivered). */
  parentId: string | null;
  body: Buffer;
  capturedAt: number;
  attempts: number;
  nextAttemptAt: number;
}

/** One request the service refused for good. */
export interface DeadLetter {
  imageId: string;
  fileId: number;
  capturedAt: number;
  attempts: number;
  status: number | null;
  code: string;
  message: string;
  diedAt: number;
  path: string | null;
}

/** An entry that can be sent: a champion's prediction, or a late shadow whose champion's prediction is delivered (its id known). */
const SENDABLE = '(parent_id IS NULL OR parent_id IN (SELECT image_id FROM delivered))';

/** Entries queued, delivered and dead. */
export interface OutboxCounts {
  queued: number;
  delivered: number;
  dead: number;
  lateShadows: { queued: number; delivered: number; dead: number };
}

export interface OutboxLimits {
  maxEntries: number;
  maxBytes: number;
}

interface EntryRow {
  image_id: string;
  file_id: number;
  body: Buffer;
  captured_at: number;
  attempts: number;
  next_attempt_at: number;
  parent_id: string | null;
}

/** Everything in this class is synchronous and transactional: a crash leaves either the old or the new state. */
export class Outbox {
  readonly #db: StateDb;
  readonly #limits: OutboxLimits;
  #totals: { entries: number; bytes: number };

  constructor(db: StateDb, limits: OutboxLimits) {
    this.#db = db;
    this.#limits = limits;
    this.#totals = this.#readTotals();
  }

  #readTotals(): { entries: number; bytes: number } {
    const row = cachedStatement<[], { n: number; b: number | null }>(this.#db, 'SELECT COUNT(*) AS n, SUM(body_bytes) AS b FROM outbox').get();
    return { entries: row?.n ?? 0, bytes: row?.b ?? 0 };
  }

  /** Entries and bytes currently queued. */
  get size(): { entries: number; bytes: number } {
    return { ...this.#totals };
  }

  /** True when the outbox is at or over a cap. */
  isFull(): boolean {
    return this.#totals.entries >= this.#limits.maxEntries || this.#totals.bytes >= this.#limits.maxBytes;
  }

  /**
   * Commits a request (and whatever `alsoInTransaction` does, e.g. the ledger state) in one
   * transaction. Returns false when this image id is already queued, delivered or dead.
   */
  enqueue(entry: { imageId: string; fileId: number; body: Buffer; capturedAt: number; parentId?: string }, alsoInTransaction?: () => void): boolean {
    const now = Date.now() / 1000;
    try {
      const inserted = this.#db.transaction(() => {
        const known = cachedStatement<[string, string, string], { x: number }>(
          this.#db,
          'SELECT 1 AS x FROM outbox WHERE image_id = ? UNION ALL SELECT 1 FROM delivered WHERE image_id = ? UNION ALL SELECT 1 FROM dead_letter WHERE image_id = ?',
        )
          .get(entry.imageId, entry.imageId, entry.imageId);
        alsoInTransaction?.();
        if (known) return false;
        cachedStatement(this.#db, 'INSERT INTO outbox (image_id, file_id, body, body_bytes, captured_at, attempts, next_attempt_at, created_at, parent_id) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)')
          .run(entry.imageId, entry.fileId, entry.body, entry.body.length, entry.capturedAt, now, now, entry.parentId ?? null);
        return true;
      })();
      if (inserted) this.#totals = { entries: this.#totals.entries + 1, bytes: this.#totals.bytes + entry.body.length };
      return inserted;
    } catch (cause) {
      throw storeError(cause, 'queue a prediction in the outbox');
    }
  }

  /** Up to `limit` entries due now, oldest capture first, excluding `exclude` (in flight). */
  due(limit: number, exclude: ReadonlySet<string>, now = Date.now() / 1000): OutboxEntry[] {
    // Ids first (cheap), bodies only for the entries actually picked.
    // A late shadow waits for its champion's prediction to be delivered (the service's prediction id).
    const ids = cachedStatement<[number, number], { image_id: string }>(
      this.#db,
      `SELECT image_id FROM outbox WHERE next_attempt_at <= ? AND ${SENDABLE} ORDER BY captured_at, created_at LIMIT ?`,
    )
      .all(now, limit + exclude.size)
      .map((r) => r.image_id)
      .filter((id) => !exclude.has(id))
      .slice(0, limit);
    const one = cachedStatement<[string], EntryRow>(this.#db, 'SELECT image_id, file_id, body, captured_at, attempts, next_attempt_at, parent_id FROM outbox WHERE image_id = ?');
    return ids
      .map((id) => one.get(id))
      .filter((r): r is EntryRow => r !== undefined)
      .map((r) => ({ imageId: r.image_id, fileId: r.file_id, parentId: r.parent_id, body: r.body, capturedAt: r.captured_at, attempts: r.attempts, nextAttemptAt: r.next_attempt_at }));
  }

  /** Seconds until the next entry is due (0 if one is due now), or null when none can be sent (empty, or only late shadows waiting for their champion). */
  nextDueIn(now = Date.now() / 1000): number | null {
    const row = cachedStatement<[], { t: number | null }>(
      this.#db,
      `SELECT MIN(next_attempt_at) AS t FROM outbox WHERE ${SENDABLE}`,
    ).get();
    if (row?.t == null) return null;
    return Math.max(0, row.t - now);
  }

  /**
   * Removes a delivered entry and records the delivery (with `also` in the same transaction).
   * Delivered without a prediction id (409: the service had it already and did not say its id),
   * its late shadows can never be sent: they are dropped. Returns how many were dropped.
   */
  markDelivered(imageId: string, status: number, predictionId: string | null, also?: () => void): number {
    try {
      return this.#db.transaction(() => {
        const row = cachedStatement<[string], { file_id: number; body_bytes: number; parent_id: string | null }>(this.#db, 'SELECT file_id, body_bytes, parent_id FROM outbox WHERE image_id = ?').get(imageId);
        if (!row) return 0;
        cachedStatement(this.#db, 'DELETE FROM outbox WHERE image_id = ?').run(imageId);
        cachedStatement(this.#db, 'INSERT OR REPLACE INTO delivered (image_id, file_id, prediction_id, status, delivered_at, parent_id) VALUES (?, ?, ?, ?, ?, ?)').run(
          imageId,
          row.file_id,
          predictionId,
          status,
          Date.now() / 1000,
          row.parent_id,
        );
        also?.();
        this.#totals = { entries: this.#totals.entries - 1, bytes: this.#totals.bytes - row.body_bytes };
        return predictionId === null ? this.#dropChildren(imageId) : 0;
      })();
    } catch (cause) {
      throw storeError(cause, 'record a delivery');
    }
  }

  /** The service's acknowledgement of an entry (201 or 409), with its prediction id (null: not told, e.g. 409); undefined while not acknowledged. */
  delivery(imageId: string): { predictionId: string | null } | undefined {
    const row = cachedStatement<[string], { prediction_id: string | null }>(this.#db, 'SELECT prediction_id FROM delivered WHERE image_id = ?').get(imageId);
    return row && { predictionId: row.prediction_id };
  }

  /** Whether the entry `imageId` is in the dead-letter table (a late shadow can no longer attach to it). */
  isDead(imageId: string): boolean {
    return cachedStatement<[string], { x: number }>(this.#db, 'SELECT 1 AS x FROM dead_letter WHERE image_id = ?').get(imageId) !== undefined;
  }

  /** Late shadows of `parentId` still queued: removed (their champion cannot take them). */
  #dropChildren(parentId: string): number {
    const rows = cachedStatement<[string], { body_bytes: number }>(this.#db, 'SELECT body_bytes FROM outbox WHERE parent_id = ?').all(parentId);
    if (rows.length === 0) return 0;
    cachedStatement(this.#db, 'DELETE FROM outbox WHERE parent_id = ?').run(parentId);
    this.#totals = { entries: this.#totals.entries - rows.length, bytes: this.#totals.bytes - rows.reduce((n, r) => n + r.body_bytes, 0) };
    return rows.length;
  }

  /** Schedules another attempt. */
  markRetry(imageId: string, delaySeconds: number, status: number | null, message: string): void {
    try {
      cachedStatement(this.#db, 'UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_status = ?, last_error = ? WHERE image_id = ?')
        .run(Date.now() / 1000 + delaySeconds, status, message.slice(0, 1000), imageId);
    } catch (cause) {
      throw storeError(cause, 'reschedule a send');
    }
  }

  /**
   * Moves an entry to the dead-letter table with the reason (with `also` in the same transaction).
   * Late shadows waiting for it are dropped (no prediction to attach them to); returns how many.
   */
  markDead(imageId: string, status: number | null, code: string, message: string, also?: () => void): number {
    try {
      return this.#db.transaction(() => {
        const row = cachedStatement<[string], EntryRow & { body_bytes: number }>(this.#db, 'SELECT * FROM outbox WHERE image_id = ?').get(imageId);
        if (!row) return 0;
        cachedStatement(this.#db, 'DELETE FROM outbox WHERE image_id = ?').run(imageId);
        cachedStatement(this.#db, 'INSERT OR REPLACE INTO dead_letter (image_id, file_id, body, captured_at, attempts, status, code, message, died_at, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(imageId, row.file_id, row.body, row.captured_at, row.attempts + 1, status, code, message.slice(0, 2000), Date.now() / 1000, row.parent_id);
        also?.();
        this.#totals = { entries: this.#totals.entries - 1, bytes: this.#totals.bytes - row.body_bytes };
        return this.#dropChildren(imageId);
      })();
    } catch (cause) {
      throw storeError(cause, 'record a dead letter');
    }
  }

  /** Dead letters, newest first. */
  listDead(limit = 100): DeadLetter[] {
    return cachedStatement<[number], { image_id: string; file_id: number; captured_at: number; attempts: number; status: number | null; code: string; message: string; died_at: number; path: string | null }>(
      this.#db,
        'SELECT d.image_id, d.file_id, d.captured_at, d.attempts, d.status, d.code, d.message, d.died_at, f.path FROM dead_letter d LEFT JOIN files f ON f.id = d.file_id ORDER BY d.died_at DESC LIMIT ?',
    )
      .all(limit)
      .map((r) => ({ imageId: r.image_id, fileId: r.file_id, capturedAt: r.captured_at, attempts: r.attempts, status: r.status, code: r.code, message: r.message, diedAt: r.died_at, path: r.path }));
  }

  /** Moves dead letters (all, or those listed) back into the outbox, due now. Returns how many. */
  retryDead(imageIds?: readonly string[], also?: (fileId: number) => void): number {
    const now = Date.now() / 1000;
    return this.#db.transaction(() => {
      const rows = cachedStatement<[], { image_id: string; file_id: number; body: Buffer; captured_at: number; parent_id: string | null }>(
        this.#db,
        'SELECT image_id, file_id, body, captured_at, parent_id FROM dead_letter',
      ).all();
      let n = 0;
      for (const r of rows) {
        if (imageIds && !imageIds.some((id) => r.image_id.startsWith(id))) continue;
        cachedStatement(this.#db, 'DELETE FROM dead_letter WHERE image_id = ?').run(r.image_id);
        cachedStatement(this.#db, 'INSERT OR IGNORE INTO outbox (image_id, file_id, body, body_bytes, captured_at, attempts, next_attempt_at, created_at, parent_id) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)')
          .run(r.image_id, r.file_id, r.body, r.body.length, r.captured_at, now, now, r.parent_id);
        if (r.parent_id === null) also?.(r.file_id);
        n += 1;
      }
      this.#totals = this.#readTotals();
      return n;
    })();
  }

  /** Deletes dead letters (all, or those listed). Returns how many. */
  purgeDead(imageIds?: readonly string[]): number {
    return this.#db.transaction(() => {
      if (!imageIds) return cachedStatement(this.#db, 'DELETE FROM dead_letter').run().changes;
      let n = 0;
      for (const id of imageIds) n += cachedStatement(this.#db, "DELETE FROM dead_letter WHERE image_id LIKE ? || '%'").run(id).changes;
      return n;
    })();
  }

  /** Counts for summaries: the champions' predictions (one per image), and the late shadows apart. */
  counts(): OutboxCounts {
    const one = (sql: string) => cachedStatement<[], { n: number }>(this.#db, sql).get()?.n ?? 0;
    const of = (table: string, late: boolean) => one(`SELECT COUNT(*) AS n FROM ${table} WHERE parent_id IS ${late ? 'NOT ' : ''}NULL`);
    return {
      queued: of('outbox', false),
      delivered: of('delivered', false),
      dead: of('dead_letter', false),
      lateShadows: { queued: of('outbox', true), delivered: of('delivered', true), dead: of('dead_letter', true) },
    };
  }
}
