/**
 * `MonitoringStore` on PostgreSQL (`serve --database postgres://…`): several `serve` processes share one database.
 * A prediction and its aggregates are one transaction; the UNIQUE (deployment_id, image_key) constraint makes a
 * duplicate sent to two replicas at once one row (the second insert waits for the first and does nothing).
 */
import pg from 'pg';
import { EdgewatchError } from '../../errors.js';
import { contributionOf, type Contribution } from '../aggregates/contribution.js';
import type { AggregateReader } from '../aggregates/reader.js';
import { predictionOfRow, predictionParams, PREDICTION_COLUMNS, type PredictionRow } from '../prediction-row.js';
import type { MonitoringStore } from '../store-api.js';
import type { InsertResult, PredictionFilter, RetentionCandidate, StoredPrediction } from '../store.js';
import { PgAggregateReader } from './aggregate-reader.js';
import { PgAggregateWriter } from './aggregate-writer.js';
import { insertSql } from './prediction-insert.js';
import { isRetryable, isUnavailable, mapPgError, redactUrl } from './pg-errors.js';
import { ensureSchema } from './schema.js';

/** int8 and numeric (COUNT, SUM of integers) as JavaScript numbers: counts and byte sizes stay far below 2^53. */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

/** Options of `PgMonitoringStore.open`. */
export interface PgStoreOptions {
  /** Connections of this process (default 10). */
  maxConnections?: number;
  /** Errors of idle connections (the database restarted...): logged by the caller; the pool reconnects by itself. */
  onIdleError?: (err: Error) => void;
}

const TRANSACTION_ATTEMPTS = 3;

/** Queries on the store's pool for the registry and reviews (`pg-registry.ts`, `pg-reviews.ts`, `model-assignment.ts`). */
export interface PgSql {
  /** One statement; an unavailable database is `EW_SERVER_DATABASE`. */
  rows<T>(sql: string, params: unknown[]): Promise<T[]>;
  /** `work` in a transaction, run again after a deadlock or serialization failure. */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** A connection outside the pool (LISTEN), with the store's types; the caller connects and ends it. */
  dedicatedClient(): pg.Client;
  /** The database URL without its password, for messages. */
  readonly where: string;
}

export class PgMonitoringStore implements MonitoringStore {
  readonly kind = 'postgres' as const;
  readonly aggregates: AggregateReader;
  readonly #pool: pg.Pool;
  readonly #writer: PgAggregateWriter;
  /** The URL without its password, for messages. */
  readonly #where: string;
  #closed: Promise<void> | null = null;
  /** The registry's and reviews' access to this database (one pool for the whole service). */
  readonly sql: PgSql;

  private constructor(pool: pg.Pool, url: string, where: string) {
    this.#pool = pool;
    this.#where = where;
    this.sql = {
      rows: (sql, params) => this.#rows(sql, params),
      transaction: (work) => this.#transaction(work),
      dedicatedClient: () => new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, types: TYPES, application_name: 'edgewatch serve (listen)' }),
      where,
    };
    this.#writer = new PgAggregateWriter((sql, params) => this.#rows(sql, params));
    this.aggregates = new PgAggregateReader((sql, params) => this.#rows(sql, params));
  }

  /** Connects to `url`, creates the tables when missing. Throws `EW_SERVER_DATABASE` when the database cannot be reached or used. */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgMonitoringStore> {
    const where = redactUrl(url);
    const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, connectionTimeoutMillis: 10_000, statement_timeout: 30_000, types: TYPES, application_name: 'edgewatch serve' });
    pool.on('error', (err) => options.onIdleError?.(err));
    try {
      const client = await pool.connect();
      try {
        await ensureSchema(client, where);
      } finally {
        client.release();
      }
    } catch (cause) {
      await pool.end().catch(() => undefined);
      if (cause instanceof EdgewatchError) throw cause;
      const code = (cause as { code?: unknown }).code;
      throw new EdgewatchError('EW_SERVER_DATABASE', `Cannot use the PostgreSQL database ${where}: ${(cause as Error).message}${typeof code === 'string' ? ` (${code})` : ''}. Check that it runs, that the URL (--database) is right and that its user may create tables.`, {
        cause,
        details: { database: where },
      });
    }
    return new PgMonitoringStore(pool, url, where);
  }

  /** A connection of the pool; any failure to get one (refused, shutting down, not accepting connections) is `EW_SERVER_DATABASE`. */
  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (err) {
      throw mapPgError(Object.assign(new Error(`cannot connect: ${(err as Error).message}`, { cause: err }), { code: 'ECONNECT' }), this.#where);
    }
  }

  async #rows<T>(sql: string, params: unknown[]): Promise<T[]> {
    const client = await this.#connect();
    let failed: Error | undefined;
    try {
      return (await client.query(sql, params)).rows as T[];
    } catch (err) {
      failed = err as Error;
      throw mapPgError(err, this.#where);
    } finally {
      // A connection whose query failed for a connection reason is dropped rather than reused.
      client.release(failed !== undefined && isUnavailable(failed) ? failed : undefined);
    }
  }

  /** Runs `work` in a transaction, again after a deadlock or serialization failure. */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const client = await this.#connect();
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (err) {
        const broken = await client.query('ROLLBACK').then(() => false, () => true);
        client.release(broken ? (err as Error) : undefined);
        if (isRetryable(err) && attempt < TRANSACTION_ATTEMPTS) continue;
        throw mapPgError(err, this.#where);
      }
    }
  }

  #resolve(contributions: readonly Contribution[]): Promise<void> {
    return this.#writer.resolveDims(contributions);
  }

  async findByImageKey(deploymentId: string, imageKey: string): Promise<string | undefined> {
    return (await this.#rows<{ id: string }>('SELECT id FROM predictions WHERE deployment_id = $1 AND image_key = $2', [deploymentId, imageKey]))[0]?.id;
  }

  /**
   * One statement, so one round trip and no explicit transaction: the row (unless its image key is stored), its
   * aggregates and the datalake counter, each CTE guarded by the row's insertion. Bucket rows stay locked only while it runs.
   */
  async insert(p: StoredPrediction): Promise<InsertResult> {
    const contribution = contributionOf(p);
    await this.#resolve([contribution]);
    const params = predictionParams(p);
    const guard = 'EXISTS (SELECT 1 FROM added)';
    const aggregates = this.#writer.ctes(this.#writer.pendingOf([contribution]), params.length + 1, guard);
    const sql = `WITH added AS (${insertSql(1)} RETURNING image_bytes),
      ${[...aggregates.sql, 'usage AS (UPDATE datalake_usage SET bytes = bytes + (SELECT image_bytes FROM added) WHERE id = 1 AND ' + guard + ')'].join(',\n      ')}
      SELECT COUNT(*)::int AS n FROM added`;
    let inserted = false;
    for (let attempt = 1; ; attempt += 1) {
      try {
        inserted = (await this.#rows<{ n: number }>(sql, [...params, ...aggregates.params]))[0]?.n === 1;
        break;
      } catch (err) {
        const cause = (err as { cause?: unknown }).cause ?? err;
        if (!(isRetryable(cause) && attempt < TRANSACTION_ATTEMPTS)) throw err;
      }
    }
    if (inserted) return { inserted: true, id: p.id };
    return { inserted: false, existingId: (await this.findByImageKey(p.deploymentId, p.imageKey)) ?? '' };
  }

  async insertMany(ps: readonly StoredPrediction[]): Promise<number> {
    if (ps.length === 0) return 0;
    const contributions = new Map(ps.map((p) => [p.id, contributionOf(p)] as const));
    await this.#resolve([...contributions.values()]);
    return this.#transaction(async (client) => {
      const added: StoredPrediction[] = [];
      const chunk = Math.floor(60_000 / PREDICTION_COLUMNS.length);
      for (let i = 0; i < ps.length; i += chunk) {
        const part = ps.slice(i, i + chunk);
        const ids = new Set((await client.query<{ id: string }>(`${insertSql(part.length)} RETURNING id`, part.flatMap(predictionParams))).rows.map((r) => r.id));
        for (const p of part) if (ids.has(p.id)) added.push(p);
      }
      if (added.length === 0) return 0;
      await this.#writer.write(client, this.#writer.pendingOf(added.map((p) => contributions.get(p.id) as Contribution)));
      await client.query('UPDATE datalake_usage SET bytes = bytes + $1 WHERE id = 1', [added.reduce((n, p) => n + p.imageBytes, 0)]);
      return added.length;
    });
  }

  async get(id: string): Promise<StoredPrediction | undefined> {
    const row = (await this.#rows<PredictionRow>('SELECT * FROM predictions WHERE id = $1', [id]))[0];
    return row && predictionOfRow(row);
  }

  async getMany(ids: readonly string[]): Promise<StoredPrediction[]> {
    if (ids.length === 0) return [];
    return (await this.#rows<PredictionRow>('SELECT * FROM predictions WHERE id = ANY($1::text[])', [ids])).map(predictionOfRow);
  }

  async setShadow(id: string, shadow: unknown, shadowClass: number | null, shadowScore: number | null, shadowLatencyS: number, shadowVersionId: string | null = null): Promise<boolean> {
    const before = await this.get(id);
    if (before === undefined || before.shadow !== null) return false;
    const after: StoredPrediction = { ...before, shadow, shadowClass, shadowScore, shadowLatencyS, shadowVersionId };
    const contributions = [contributionOf(before, -1), contributionOf(after)];
    await this.#resolve(contributions);
    return this.#transaction(async (client) => {
      // Only the shadow columns ever change, and only from NULL: a row still without a shadow is the row read above.
      const updated = await client.query(
        'UPDATE predictions SET shadow_json = $1, shadow_class = $2, shadow_score = $3, shadow_latency_s = $4, shadow_version_id = $5 WHERE id = $6 AND shadow_json IS NULL',
        [JSON.stringify(shadow), shadowClass, shadowScore, shadowLatencyS, shadowVersionId, id],
      );
      if (updated.rowCount !== 1) return false;
      await this.#writer.write(client, this.#writer.pendingOf(contributions));
      return true;
    });
  }

  async count(deploymentId: string): Promise<number> {
    return (await this.#rows<{ n: number }>('SELECT COUNT(*) AS n FROM predictions WHERE deployment_id = $1', [deploymentId]))[0]?.n ?? 0;
  }

  async latest(f: PredictionFilter, limit: number, disagreementsFirst: boolean, window = 200): Promise<StoredPrediction[]> {
    const parts = ['deployment_id = $1'];
    const params: unknown[] = [f.deploymentId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      parts.push(sql.replace('$?', `$${params.length}`));
    };
    if (f.fromS !== undefined) add('timestamp_s >= $?', f.fromS);
    if (f.toS !== undefined) add('timestamp_s <= $?', f.toS);
    if (f.source !== undefined) add('source = $?', f.source);
    if (f.tag !== undefined) add('(tags_json::jsonb) ? $?', f.tag);
    const where = parts.join(' AND ');
    const order = 'timestamp_s DESC, received_s DESC';
    const sql = disagreementsFirst
      ? `SELECT * FROM (SELECT * FROM predictions WHERE ${where} ORDER BY ${order} LIMIT $${params.length + 1}) AS latest
         ORDER BY (shadow_json IS NOT NULL AND champion_class IS DISTINCT FROM shadow_class) DESC, ${order} LIMIT $${params.length + 2}`
      : `SELECT * FROM predictions WHERE ${where} ORDER BY ${order} LIMIT $${params.length + 1}`;
    return (await this.#rows<PredictionRow>(sql, disagreementsFirst ? [...params, Math.max(window, limit), limit] : [...params, limit])).map(predictionOfRow);
  }

  async datalakeBytes(): Promise<number> {
    return (await this.#rows<{ bytes: number }>('SELECT bytes FROM datalake_usage WHERE id = 1', []))[0]?.bytes ?? 0;
  }

  async oldest(limit: number, beforeS?: number): Promise<RetentionCandidate[]> {
    const columns = 'SELECT id, image_path AS "imagePath", image_bytes AS "imageBytes", timestamp_s AS "timestampS" FROM predictions';
    return beforeS === undefined
      ? this.#rows<RetentionCandidate>(`${columns} ORDER BY timestamp_s LIMIT $1`, [limit])
      : this.#rows<RetentionCandidate>(`${columns} WHERE timestamp_s < $1 ORDER BY timestamp_s LIMIT $2`, [beforeS, limit]);
  }

  async deleteMany(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.#transaction(async (client) => {
      const gone = await client.query<{ image_bytes: number }>('DELETE FROM predictions WHERE id = ANY($1::text[]) RETURNING image_bytes', [ids]);
      const bytes = gone.rows.reduce((n, r) => n + r.image_bytes, 0);
      if (bytes !== 0) await client.query('UPDATE datalake_usage SET bytes = bytes - $1 WHERE id = 1', [bytes]);
      return gone.rows.length;
    });
  }

  /** True when the database answers and is not a read-only standby; otherwise what is wrong. */
  async probeWritable(): Promise<true | string> {
    try {
      const row = (await this.#rows<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby', []))[0];
      return row?.standby === false ? true : 'PostgreSQL is a read-only standby';
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Ends the pool (waits for queries in flight); later calls return the same promise. */
  close(): Promise<void> {
    this.#closed ??= this.#pool.end().catch(() => undefined);
    return this.#closed;
  }
}
