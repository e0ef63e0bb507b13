/** SQLite store of the embedded monitoring service: one row per monitored image, idempotent per (deployment, image key). */
import Database from 'better-sqlite3';
import { EdgewatchError } from '../errors.js';
import { cachedStatement } from '../sqlite-statements.js';
import { PREDICTION_COLUMNS, predictionOfRow, predictionParams, type PredictionRow } from './prediction-row.js';
import { contributionOf } from './aggregates/contribution.js';
import type { AggregateReader } from './aggregates/reader.js';
import { AGGREGATE_TABLES, AGGREGATES_SCHEMA } from './aggregates/schema.js';
import { SqliteAggregateReader } from './aggregates/sqlite-reader.js';
import { SqliteAggregateWriter } from './aggregates/sqlite-writer.js';
import { StatsWorker } from './aggregates/stats-worker.js';
import { WAL_HARD_CAP_PAGES, WalCheckpointer, type WalCheckpointerOptions } from './wal-checkpointer.js';

/** A prediction as stored. Times are epoch seconds, latencies seconds. */
export interface StoredPrediction {
  id: string;
  deploymentId: string;
  imageKey: string;
  filename: string;
  contentType: string;
  width: number;
  height: number;
  /** Path of the image relative to the datalake folder. */
  imagePath: string;
  imageBytes: number;
  champion: unknown;
  championClass: number | null;
  championScore: number | null;
  latencyS: number;
  shadow: unknown | null;
  shadowClass: number | null;
  shadowScore: number | null;
  shadowLatencyS: number | null;
  source: string;
  tags: string[];
  metadata: Record<string, unknown> | null;
  customMetadata: Record<string, unknown> | null;
  timestampS: number;
  receivedS: number;
  /** Model versions the deployment named when the prediction (for the shadow: the shadow prediction) arrived; null when none. */
  championVersionId?: string | null;
  shadowVersionId?: string | null;
}

/** Filters of gallery queries. */
export interface PredictionFilter {
  deploymentId: string;
  fromS?: number;
  toS?: number;
  source?: string;
  tag?: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS predictions (
  id TEXT PRIMARY KEY,
  deployment_id TEXT NOT NULL,
  image_key TEXT NOT NULL,
  filename TEXT NOT NULL,
  content_type TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  image_path TEXT NOT NULL,
  image_bytes INTEGER NOT NULL,
  champion_json TEXT NOT NULL,
  champion_class INTEGER,
  champion_score REAL,
  latency_s REAL NOT NULL,
  shadow_json TEXT,
  shadow_class INTEGER,
  shadow_score REAL,
  shadow_latency_s REAL,
  source TEXT NOT NULL,
  tags_json TEXT NOT NULL,
  metadata_json TEXT,
  custom_metadata_json TEXT,
  timestamp_s REAL NOT NULL,
  received_s REAL NOT NULL,
  UNIQUE (deployment_id, image_key)
);
CREATE INDEX IF NOT EXISTS predictions_by_time ON predictions (deployment_id, timestamp_s);
CREATE INDEX IF NOT EXISTS predictions_by_capture ON predictions (timestamp_s);
CREATE TABLE IF NOT EXISTS datalake_usage (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS predictions_usage_insert AFTER INSERT ON predictions
  BEGIN UPDATE datalake_usage SET bytes = bytes + NEW.image_bytes WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS predictions_usage_delete AFTER DELETE ON predictions
  BEGIN UPDATE datalake_usage SET bytes = bytes - OLD.image_bytes WHERE id = 1; END;
`;

/** A prediction as retention sees it: what to delete, where its image is, and how much that frees. */
export interface RetentionCandidate {
  id: string;
  imagePath: string;
  imageBytes: number;
  timestampS: number;
}

function whereOf(f: PredictionFilter): { sql: string; params: unknown[] } {
  const parts = ['deployment_id = ?'];
  const params: unknown[] = [f.deploymentId];
  if (f.fromS !== undefined) (parts.push('timestamp_s >= ?'), params.push(f.fromS));
  if (f.toS !== undefined) (parts.push('timestamp_s <= ?'), params.push(f.toS));
  if (f.source !== undefined) (parts.push('source = ?'), params.push(f.source));
  if (f.tag !== undefined) (parts.push('EXISTS (SELECT 1 FROM json_each(tags_json) WHERE value = ?)'), params.push(f.tag));
  return { sql: parts.join(' AND '), params };
}

/** Result of an insert: the stored id, or the id of the prediction that already holds this image key. */
export type InsertResult = { inserted: true; id: string } | { inserted: false; existingId: string };

/** Schema version kept in `PRAGMA user_version`: 3 = model-version columns, aggregate tables with roll-ups and six levels. */
export const STORE_SCHEMA_VERSION = 3;

const INSERT_SQL = `INSERT INTO predictions (${PREDICTION_COLUMNS.join(', ')})
   VALUES (${PREDICTION_COLUMNS.map(() => '?').join(', ')})
   ON CONFLICT (deployment_id, image_key) DO NOTHING`;

/**
 * The predictions database (WAL, busy timeout). Every stored prediction is also added to the aggregates (in the same
 * transaction), which the statistics read through `aggregates`. All methods are synchronous; `close()` is idempotent.
 */
export class PredictionStore {
  #db: Database.Database;
  #closed = false;
  #writer: SqliteAggregateWriter;
  /** The statistics' read side (merged buckets; never reads predictions), on this connection. */
  readonly aggregates: AggregateReader;
  /** The same statistics computed in a worker thread with its own read-only connection: what the routes use. */
  readonly stats: StatsWorker;
  readonly #file: string;
  readonly #checkpoint: WalCheckpointerOptions | false;
  #checkpointer: WalCheckpointer | null = null;

  /**
   * `maxDimsPerDeployment`: cap on a deployment's exact aggregate dimensions (tests lower it). `checkpoint`: the
   * background WAL checkpoints (started at the first write; `false`: SQLite's inline checkpoints every 1,000 pages).
   */
  constructor(file: string, options: { maxDimsPerDeployment?: number; checkpoint?: WalCheckpointerOptions | false } = {}) {
    this.#file = file;
    this.#checkpoint = options.checkpoint ?? {};
    try {
      this.#db = new Database(file);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('busy_timeout = 5000');
      this.#db.pragma('synchronous = NORMAL');
      if (this.#checkpoint !== false) {
        // Checkpoints run in the checkpoint worker; the writer checkpoints inline only past the cap (the worker behind or failed).
        this.#db.pragma(`wal_autocheckpoint = ${WAL_HARD_CAP_PAGES}`);
        // The WAL file shrinks back to the cap when it restarts after a checkpoint.
        this.#db.pragma(`journal_size_limit = ${WAL_HARD_CAP_PAGES * 4096}`);
      }
      this.#db.exec(SCHEMA);
      // Databases from before the usage counter: one sum, once; the triggers keep it from then on.
      if (this.#db.prepare('SELECT 1 FROM datalake_usage WHERE id = 1').get() === undefined) {
        this.#db.exec('INSERT INTO datalake_usage (id, bytes) SELECT 1, COALESCE(SUM(image_bytes), 0) FROM predictions');
      }
      this.#writer = new SqliteAggregateWriter(this.#db, options.maxDimsPerDeployment);
      this.#migrate();
      this.aggregates = new SqliteAggregateReader(this.#db);
      this.stats = new StatsWorker(file);
    } catch (cause) {
      throw new EdgewatchError('EW_STORE_OPEN', `Cannot open the monitoring database ${file}: ${(cause as Error).message}.`, { cause, details: { path: file } });
    }
  }

  /**
   * To version 3: model-version columns, the aggregate tables (rebuilt when an earlier layout exists), and the
   * aggregates of the predictions already stored (read in rowid order, 5,000 at a time), all in one transaction: a
   * database is either migrated or untouched.
   */
  #migrate(): void {
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version >= STORE_SCHEMA_VERSION) return;
    this.#db.transaction(() => {
      const columns = new Set((this.#db.prepare('PRAGMA table_info(predictions)').all() as { name: string }[]).map((c) => c.name));
      if (!columns.has('champion_version_id')) this.#db.exec('ALTER TABLE predictions ADD COLUMN champion_version_id TEXT');
      if (!columns.has('shadow_version_id')) this.#db.exec('ALTER TABLE predictions ADD COLUMN shadow_version_id TEXT');
      for (const table of AGGREGATE_TABLES) this.#db.exec(`DROP TABLE IF EXISTS ${table}`);
      this.#db.exec(AGGREGATES_SCHEMA);
      const page = this.#db.prepare('SELECT rowid AS rid, * FROM predictions WHERE rowid > ? ORDER BY rowid LIMIT 5000');
      let after = -Infinity;
      for (;;) {
        const rows = page.all(after) as (PredictionRow & { rid: number })[];
        if (rows.length === 0) break;
        this.#writer.apply(rows.map((r) => contributionOf(predictionOfRow(r))));
        after = (rows[rows.length - 1] as { rid: number }).rid;
      }
      this.#db.pragma(`user_version = ${STORE_SCHEMA_VERSION}`);
    })();
  }

  /** The id of the prediction holding `imageKey` for that deployment, if any. */
  findByImageKey(deploymentId: string, imageKey: string): string | undefined {
    const row = cachedStatement(this.#db, 'SELECT id FROM predictions WHERE deployment_id = ? AND image_key = ?').get(deploymentId, imageKey) as { id: string } | undefined;
    return row?.id;
  }

  /** The background checkpoints, started at the first write (a read-only use of the store never starts the worker). */
  #writing(): void {
    if (this.#checkpointer !== null || this.#checkpoint === false || this.#closed) return;
    this.#checkpointer = new WalCheckpointer(this.#file, this.#checkpoint);
  }

  /** The background checkpointer, once a write started it (null with `checkpoint: false`). */
  get checkpointer(): WalCheckpointer | null {
    return this.#checkpointer;
  }

  /** Inserts a prediction (and its aggregates) unless its image key is already stored for that deployment. */
  insert(p: StoredPrediction): InsertResult {
    this.#writing();
    const stmt = cachedStatement(this.#db, INSERT_SQL);
    const inserted = this.#db.transaction(() => {
      if (stmt.run(...predictionParams(p)).changes !== 1) return false;
      this.#writer.apply([contributionOf(p)]);
      return true;
    })();
    if (inserted) return { inserted: true, id: p.id };
    return { inserted: false, existingId: this.findByImageKey(p.deploymentId, p.imageKey) ?? '' };
  }

  /**
   * Inserts many predictions in one transaction, their aggregates merged before they are written (one upsert per
   * touched bucket row): the fast path for imports and the service bench. Returns how many were new.
   */
  insertMany(ps: readonly StoredPrediction[]): number {
    this.#writing();
    const stmt = cachedStatement(this.#db, INSERT_SQL);
    return this.#db.transaction(() => {
      const added = ps.filter((p) => stmt.run(...predictionParams(p)).changes === 1);
      this.#writer.apply(added.map((p) => contributionOf(p)));
      return added.length;
    })();
  }

  /** One prediction by id. */
  get(id: string): StoredPrediction | undefined {
    const row = cachedStatement(this.#db, 'SELECT * FROM predictions WHERE id = ?').get(id) as PredictionRow | undefined;
    return row && predictionOfRow(row);
  }

  /**
   * Adds a late shadow prediction, credited to `shadowVersionId` (the shadow the deployment names now); false when the
   * prediction already has one (or does not exist). Its aggregates move in the same transaction: the prediction's
   * contribution without a shadow is taken out and added back with it.
   */
  setShadow(id: string, shadow: unknown, shadowClass: number | null, shadowScore: number | null, shadowLatencyS: number, shadowVersionId: string | null = null): boolean {
    this.#writing();
    return this.#db.transaction(() => {
      const before = this.get(id);
      if (before === undefined || before.shadow !== null) return false;
      const info = cachedStatement(this.#db, 'UPDATE predictions SET shadow_json = ?, shadow_class = ?, shadow_score = ?, shadow_latency_s = ?, shadow_version_id = ? WHERE id = ? AND shadow_json IS NULL')
        .run(JSON.stringify(shadow), shadowClass, shadowScore, shadowLatencyS, shadowVersionId, id);
      if (info.changes !== 1) return false;
      const after: StoredPrediction = { ...before, shadow, shadowClass, shadowScore, shadowLatencyS, shadowVersionId };
      this.#writer.apply([contributionOf(before, -1), contributionOf(after)]);
      return true;
    })();
  }

  /** Number of predictions of a deployment. */
  count(deploymentId: string): number {
    return (cachedStatement(this.#db, 'SELECT COUNT(*) AS n FROM predictions WHERE deployment_id = ?').get(deploymentId) as { n: number }).n;
  }

  /**
   * The latest `limit` predictions (by prediction time); with `disagreementsFirst`, the latest `window` are taken and those where
   * champion and shadow top-1 differ come first.
   */
  latest(f: PredictionFilter, limit: number, disagreementsFirst: boolean, window = 200): StoredPrediction[] {
    const w = whereOf(f);
    const sql = disagreementsFirst
      ? `SELECT * FROM (SELECT * FROM predictions WHERE ${w.sql} ORDER BY timestamp_s DESC, received_s DESC LIMIT ?)
         ORDER BY (shadow_json IS NOT NULL AND champion_class IS NOT shadow_class) DESC, timestamp_s DESC, received_s DESC LIMIT ?`
      : `SELECT * FROM predictions WHERE ${w.sql} ORDER BY timestamp_s DESC, received_s DESC LIMIT ?`;
    const params = disagreementsFirst ? [...w.params, Math.max(window, limit), limit] : [...w.params, limit];
    return (cachedStatement(this.#db, sql).all(...params) as PredictionRow[]).map(predictionOfRow);
  }

  /** Bytes of the stored images of every deployment (the datalake's size), kept by triggers: no scan. */
  datalakeBytes(): number {
    return (cachedStatement(this.#db, 'SELECT bytes FROM datalake_usage WHERE id = 1').get() as { bytes: number } | undefined)?.bytes ?? 0;
  }

  /** The `limit` predictions of every deployment captured first, only those captured before `beforeS` when given. */
  oldest(limit: number, beforeS?: number): RetentionCandidate[] {
    const columns = 'SELECT id, image_path AS imagePath, image_bytes AS imageBytes, timestamp_s AS timestampS FROM predictions';
    return (
      beforeS === undefined
        ? cachedStatement(this.#db, `${columns} ORDER BY timestamp_s LIMIT ?`).all(limit)
        : cachedStatement(this.#db, `${columns} WHERE timestamp_s < ? ORDER BY timestamp_s LIMIT ?`).all(beforeS, limit)
    ) as RetentionCandidate[];
  }

  /** Deletes predictions by id in one transaction; returns how many rows went. */
  deleteMany(ids: readonly string[]): number {
    this.#writing();
    const remove = cachedStatement(this.#db, 'DELETE FROM predictions WHERE id = ?');
    return this.#db.transaction(() => ids.reduce((n, id) => n + remove.run(id).changes, 0))();
  }

  /** Closes the database; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.stats.close();
    void this.#checkpointer?.close();
    this.#db.close();
  }
}
