/** Each result sink's durable queue (`sink_pending`) and dead letters (`sink_dead`): records are added in the transaction that commits the image, so a crash loses none. */
import { cachedStatement } from '../sqlite-statements.js';
import { storeError, type StateDb } from './state-db.js';

/** One record waiting for one sink. */
export interface SinkRow {
  imageId: string;
  /** The JSON record, exactly as delivered. */
  record: string;
  attempts: number;
}

/** A sink's queue and dead letters, as counts. */
export interface SinkCounts {
  pending: number;
  dead: number;
}

/**
 * The queues of the configured sinks. Every method is synchronous; `add` is meant to run inside the
 * caller's transaction. Each queue holds at most `maxPending` records: adding beyond drops the oldest
 * (returned, for the caller to count under EW_SINK_BACKLOG). Dead letters are bounded the same way.
 */
export class SinkQueue {
  readonly #db: StateDb;
  readonly sinks: readonly string[];
  readonly #maxPending: number;
  readonly #pending = new Map<string, number>();

  constructor(db: StateDb, sinks: readonly string[], maxPending: number) {
    this.#db = db;
    this.sinks = sinks;
    this.#maxPending = maxPending;
    for (const sink of sinks) this.#pending.set(sink, this.#count('sink_pending', sink));
  }

  #count(table: 'sink_pending' | 'sink_dead', sink: string): number {
    return cachedStatement<[string], { n: number }>(this.#db, `SELECT COUNT(*) AS n FROM ${table} WHERE sink = ?`).get(sink)?.n ?? 0;
  }

  /** Queues `record` for every sink (idempotent per image id). Returns, per sink, how many oldest records were dropped to make room. */
  add(imageId: string, record: string): Map<string, number> {
    const dropped = new Map<string, number>();
    const now = Date.now() / 1000;
    try {
      for (const sink of this.sinks) {
        const inserted = cachedStatement(this.#db, 'INSERT OR IGNORE INTO sink_pending (sink, image_id, record, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 0, ?, ?)')
          .run(sink, imageId, record, now, now).changes;
        if (inserted === 0) continue;
        const pending = (this.#pending.get(sink) ?? 0) + 1;
        const over = pending - this.#maxPending;
        if (over > 0) {
          cachedStatement(this.#db, 'DELETE FROM sink_pending WHERE id IN (SELECT id FROM sink_pending WHERE sink = ? ORDER BY id LIMIT ?)').run(sink, over);
          dropped.set(sink, over);
        }
        this.#pending.set(sink, Math.min(pending, this.#maxPending));
      }
    } catch (cause) {
      throw storeError(cause, 'queue a result for the sinks');
    }
    return dropped;
  }

  /** Up to `limit` records of `sink` due now, oldest first. */
  due(sink: string, limit: number, now = Date.now() / 1000): SinkRow[] {
    return cachedStatement<[string, number, number], { image_id: string; record: string; attempts: number }>(
      this.#db,
      'SELECT image_id, record, attempts FROM sink_pending WHERE sink = ? AND next_attempt_at <= ? ORDER BY id LIMIT ?',
    )
      .all(sink, now, limit)
      .map((r) => ({ imageId: r.image_id, record: r.record, attempts: r.attempts }));
  }

  /** Seconds until the next record of `sink` is due (0: now), or null when its queue is empty. */
  nextDueIn(sink: string, now = Date.now() / 1000): number | null {
    const t = cachedStatement<[string], { t: number | null }>(this.#db, 'SELECT MIN(next_attempt_at) AS t FROM sink_pending WHERE sink = ?').get(sink)?.t;
    return t == null ? null : Math.max(0, t - now);
  }

  /** Records the outcome of one delivery round in one transaction. */
  settle(sink: string, outcome: { delivered: readonly string[]; retry: readonly { imageId: string; delaySeconds: number; message: string; counted: boolean }[]; dead: readonly { imageId: string; code: string; message: string }[] }): void {
    const now = Date.now() / 1000;
    try {
      this.#db.transaction(() => {
        const remove = cachedStatement(this.#db, 'DELETE FROM sink_pending WHERE sink = ? AND image_id = ?');
        for (const id of outcome.delivered) remove.run(sink, id);
        for (const r of outcome.retry) {
          cachedStatement(this.#db, 'UPDATE sink_pending SET attempts = attempts + ?, next_attempt_at = ?, last_error = ? WHERE sink = ? AND image_id = ?')
            .run(r.counted ? 1 : 0, now + r.delaySeconds, r.message.slice(0, 1000), sink, r.imageId);
        }
        for (const d of outcome.dead) {
          cachedStatement(
            this.#db,
            'INSERT OR REPLACE INTO sink_dead (sink, image_id, record, attempts, code, message, died_at) SELECT sink, image_id, record, attempts + 1, ?, ?, ? FROM sink_pending WHERE sink = ? AND image_id = ?',
          ).run(d.code, d.message.slice(0, 2000), now, sink, d.imageId);
          remove.run(sink, d.imageId);
        }
        if (outcome.dead.length > 0) {
          cachedStatement(this.#db, 'DELETE FROM sink_dead WHERE sink = ? AND id NOT IN (SELECT id FROM sink_dead WHERE sink = ? ORDER BY id DESC LIMIT ?)').run(sink, sink, this.#maxPending);
        }
      })();
    } catch (cause) {
      throw storeError(cause, `record deliveries to the ${sink} sink`);
    }
    this.#pending.set(sink, this.#count('sink_pending', sink));
  }

  /** Pending and dead records of `sink`. */
  counts(sink: string): SinkCounts {
    return { pending: this.#pending.get(sink) ?? this.#count('sink_pending', sink), dead: this.#count('sink_dead', sink) };
  }

  /** Names of the sinks with records in the database, configured or not (`edgewatch outbox list`). */
  static sinksIn(db: StateDb): string[] {
    return cachedStatement<[], { sink: string }>(db, 'SELECT sink FROM sink_pending UNION SELECT sink FROM sink_dead ORDER BY sink').all().map((r) => r.sink);
  }

  /** Moves dead letters of every sink (all, or those whose image id starts with one of `imageIds`) back into their queues, due now. Returns how many. */
  retryDead(imageIds?: readonly string[]): number {
    const now = Date.now() / 1000;
    try {
      return this.#db.transaction(() => {
        let n = 0;
        for (const r of cachedStatement<[], { id: number; sink: string; image_id: string; record: string }>(this.#db, 'SELECT id, sink, image_id, record FROM sink_dead ORDER BY id').all()) {
          if (imageIds && !imageIds.some((id) => r.image_id.startsWith(id))) continue;
          cachedStatement(this.#db, 'INSERT OR IGNORE INTO sink_pending (sink, image_id, record, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 0, ?, ?)').run(r.sink, r.image_id, r.record, now, now);
          cachedStatement(this.#db, 'DELETE FROM sink_dead WHERE id = ?').run(r.id);
          this.#pending.set(r.sink, (this.#pending.get(r.sink) ?? 0) + 1);
          n += 1;
        }
        return n;
      })();
    } catch (cause) {
      throw storeError(cause, 'move sink dead letters back');
    }
  }

  /** Deletes dead letters of every sink (all, or those whose image id starts with one of `imageIds`). Returns how many. */
  purgeDead(imageIds?: readonly string[]): number {
    if (!imageIds) return cachedStatement(this.#db, 'DELETE FROM sink_dead').run().changes;
    let n = 0;
    for (const id of imageIds) n += cachedStatement(this.#db, "DELETE FROM sink_dead WHERE image_id LIKE ? || '%'").run(id).changes;
    return n;
  }

  /** Dead letters of `sink`, newest first (inspection). */
  listDead(sink: string, limit = 100): { imageId: string; code: string; message: string; attempts: number; diedAt: number }[] {
    return cachedStatement<[string, number], { image_id: string; code: string; message: string; attempts: number; died_at: number }>(
      this.#db,
      'SELECT image_id, code, message, attempts, died_at FROM sink_dead WHERE sink = ? ORDER BY id DESC LIMIT ?',
    )
      .all(sink, limit)
      .map((r) => ({ imageId: r.image_id, code: r.code, message: r.message, attempts: r.attempts, diedAt: r.died_at }));
  }
}
