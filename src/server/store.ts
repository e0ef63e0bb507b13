/** SQLite store of the embedded monitoring service: one row per monitored image, idempotent per (deployment, image key). */
import Database from 'better-sqlite3';
import { EdgewatchError } from '../errors.js';
import { cachedStatement } from '../sqlite-statements.js';

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
}

/** Filters shared by stats and gallery queries. */
export interface PredictionFilter {
  deploymentId: string;
  fromS?: number;
  toS?: number;
  source?: string;
  tag?: string;
}

/** The columns the statistics need, one row per prediction, oldest first. */
export interface StatsRow {
  t: number;
  cc: number | null;
  cs: number | null;
  lat: number;
  sc: number | null;
  ss: number | null;
  slat: number | null;
  hasShadow: 0 | 1;
  source: string;
  cm: string | null;
  /** JSON array of tags. */
  tags: string;
}

interface Row {
  id: string;
  deployment_id: string;
  image_key: string;
  filename: string;
  content_type: string;
  width: number;
  height: number;
  image_path: string;
  image_bytes: number;
  champion_json: string;
  champion_class: number | null;
  champion_score: number | null;
  latency_s: number;
  shadow_json: string | null;
  shadow_class: number | null;
  shadow_score: number | null;
  shadow_latency_s: number | null;
  source: string;
  tags_json: string;
  metadata_json: string | null;
  custom_metadata_json: string | null;
  timestamp_s: number;
  received_s: number;
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

function fromRow(r: Row): StoredPrediction {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    imageKey: r.image_key,
    filename: r.filename,
    contentType: r.content_type,
    width: r.width,
    height: r.height,
    imagePath: r.image_path,
    imageBytes: r.image_bytes,
    champion: JSON.parse(r.champion_json),
    championClass: r.champion_class,
    championScore: r.champion_score,
    latencyS: r.latency_s,
    shadow: r.shadow_json === null ? null : JSON.parse(r.shadow_json),
    shadowClass: r.shadow_class,
    shadowScore: r.shadow_score,
    shadowLatencyS: r.shadow_latency_s,
    source: r.source,
    tags: JSON.parse(r.tags_json) as string[],
    metadata: r.metadata_json === null ? null : (JSON.parse(r.metadata_json) as Record<string, unknown>),
    customMetadata: r.custom_metadata_json === null ? null : (JSON.parse(r.custom_metadata_json) as Record<string, unknown>),
    timestampS: r.timestamp_s,
    receivedS: r.received_s,
  };
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

/** The predictions database (WAL, busy timeout). All methods are synchronous; `close()` is idempotent. */
export class PredictionStore {
  #db: Database.Database;
  #closed = false;

  constructor(file: string) {
    try {
      this.#db = new Database(file);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('busy_timeout = 5000');
      this.#db.pragma('synchronous = NORMAL');
      this.#db.exec(SCHEMA);
      // Databases from before the usage counter: one sum, once; the triggers keep it from then on.
      if (this.#db.prepare('SELECT 1 FROM datalake_usage WHERE id = 1').get() === undefined) {
        this.#db.exec('INSERT INTO datalake_usage (id, bytes) SELECT 1, COALESCE(SUM(image_bytes), 0) FROM predictions');
      }
    } catch (cause) {
      throw new EdgewatchError('EW_STORE_OPEN', `Cannot open the monitoring database ${file}: ${(cause as Error).message}.`, { cause, details: { path: file } });
    }
  }

  /** The id of the prediction holding `imageKey` for that deployment, if any. */
  findByImageKey(deploymentId: string, imageKey: string): string | undefined {
    const row = cachedStatement(this.#db, 'SELECT id FROM predictions WHERE deployment_id = ? AND image_key = ?').get(deploymentId, imageKey) as { id: string } | undefined;
    return row?.id;
  }

  /** Inserts a prediction unless its image key is already stored for that deployment. */
  insert(p: StoredPrediction): InsertResult {
    const info = cachedStatement(
      this.#db,
        `INSERT INTO predictions (id, deployment_id, image_key, filename, content_type, width, height, image_path, image_bytes,
          champion_json, champion_class, champion_score, latency_s, shadow_json, shadow_class, shadow_score, shadow_latency_s,
          source, tags_json, metadata_json, custom_metadata_json, timestamp_s, received_s)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (deployment_id, image_key) DO NOTHING`,
    )
      .run(
        p.id, p.deploymentId, p.imageKey, p.filename, p.contentType, p.width, p.height, p.imagePath, p.imageBytes,
        JSON.stringify(p.champion), p.championClass, p.championScore, p.latencyS,
        p.shadow === null ? null : JSON.stringify(p.shadow), p.shadowClass, p.shadowScore, p.shadowLatencyS,
        p.source, JSON.stringify(p.tags), p.metadata === null ? null : JSON.stringify(p.metadata),
        p.customMetadata === null ? null : JSON.stringify(p.customMetadata), p.timestampS, p.receivedS,
      );
    if (info.changes === 1) return { inserted: true, id: p.id };
    return { inserted: false, existingId: this.findByImageKey(p.deploymentId, p.imageKey) ?? '' };
  }

  /** One prediction by id. */
  get(id: string): StoredPrediction | undefined {
    const row = cachedStatement(this.#db, 'SELECT * FROM predictions WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(row);
  }

  /** Adds a late shadow prediction; false when the prediction already has one (or does not exist). */
  setShadow(id: string, shadow: unknown, shadowClass: number | null, shadowScore: number | null, shadowLatencyS: number): boolean {
    const info = cachedStatement(this.#db, 'UPDATE predictions SET shadow_json = ?, shadow_class = ?, shadow_score = ?, shadow_latency_s = ? WHERE id = ? AND shadow_json IS NULL')
      .run(JSON.stringify(shadow), shadowClass, shadowScore, shadowLatencyS, id);
    return info.changes === 1;
  }

  /** Number of predictions of a deployment. */
  count(deploymentId: string): number {
    return (cachedStatement(this.#db, 'SELECT COUNT(*) AS n FROM predictions WHERE deployment_id = ?').get(deploymentId) as { n: number }).n;
  }

  /** Columns needed by the statistics, oldest first. */
  statsRows(f: PredictionFilter): StatsRow[] {
    const w = whereOf(f);
    return cachedStatement(
      this.#db,
        `SELECT timestamp_s AS t, champion_class AS cc, champion_score AS cs, latency_s AS lat, shadow_class AS sc, shadow_score AS ss,
          shadow_latency_s AS slat, (shadow_json IS NOT NULL) AS hasShadow, source, json_extract(custom_metadata_json, '$.edgewatch') AS cm, tags_json AS tags
         FROM predictions WHERE ${w.sql} ORDER BY timestamp_s, received_s`,
    )
      .all(...w.params) as StatsRow[];
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
    return (cachedStatement(this.#db, sql).all(...params) as Row[]).map(fromRow);
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
    const remove = cachedStatement(this.#db, 'DELETE FROM predictions WHERE id = ?');
    return this.#db.transaction(() => ids.reduce((n, id) => n + remove.run(id).changes, 0))();
  }

  /** Closes the database; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
