/**
 * `AggregateReader` on SQLite. A read is one statement: one indexed range scan per level range (`UNION ALL`, at most
 * two ranges per level), summed by the outer `GROUP BY`. (An `OR` of the ranges would make SQLite scan every bucket
 * of the dimensions.)
 */
import type Database from 'better-sqlite3';
import { cachedStatement } from '../../sqlite-statements.js';
import { ROLLUP } from './contribution.js';
import type { LevelRange } from './levels.js';
import type { AggregateReader, BinRow, CountsRow, Dim, ObjectRow, PairRow, TimelinePairRow } from './reader.js';

const BRANCH = (table: string) => `SELECT * FROM ${table} WHERE dim_id IN (SELECT value FROM json_each(?)) AND level = ? AND bucket >= ? AND bucket < ?`;

export class SqliteAggregateReader implements AggregateReader {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** `SELECT <select> FROM (<one branch per range>) GROUP BY <groupBy>`. */
  #sum<T>(table: string, select: string, groupBy: string, dimIds: readonly number[], ranges: readonly LevelRange[], tail = '', selectParams: unknown[] = []): T[] {
    if (dimIds.length === 0 || ranges.length === 0) return [];
    const sql = `SELECT ${select} FROM (${ranges.map(() => BRANCH(table)).join(' UNION ALL ')}) GROUP BY ${groupBy} ${tail}`;
    const ids = JSON.stringify(dimIds);
    return cachedStatement(this.#db, sql).all(...selectParams, ...ranges.flatMap((r) => [ids, r.level, r.fromS, r.toS])) as T[];
  }

  async dims(deploymentId: string): Promise<Dim[]> {
    const rows = cachedStatement(this.#db, 'SELECT id, champion_version, shadow_version, source, tags_json, names_json FROM agg_dims WHERE deployment_id = ? ORDER BY id').all(deploymentId) as {
      id: number; champion_version: string; shadow_version: string; source: string; tags_json: string; names_json: string;
    }[];
    return rows.map((r) => {
      const rollup = r.tags_json === ROLLUP;
      const names = rollup ? { champion: null, shadow: null, backend: null, agentVersion: null } : (JSON.parse(r.names_json) as Dim['names']);
      return { id: r.id, rollup, championVersion: r.champion_version, shadowVersion: r.shadow_version, source: r.source, tags: rollup ? [] : (JSON.parse(r.tags_json) as string[]), names };
    });
  }

  async counts(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<CountsRow[]> {
    return this.#sum<CountsRow>(
      'agg_counts',
      `dim_id AS dimId, SUM(n) AS n, SUM(w) AS w, SUM(shadow_n) AS shadowN, SUM(shadow_w) AS shadowW, SUM(lat_sum_w) AS latSumW, SUM(shadow_lat_sum_w) AS shadowLatSumW,
       MIN(lat_min) AS latMin, MAX(lat_max) AS latMax, MIN(shadow_lat_min) AS shadowLatMin, MAX(shadow_lat_max) AS shadowLatMax, MIN(t_min) AS tMin, MAX(t_max) AS tMax`,
      'dim_id',
      dimIds,
      ranges,
      'HAVING SUM(n) > 0',
    );
  }

  async pairs(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<PairRow[]> {
    return this.#sum<PairRow>(
      'agg_pairs',
      'dim_id AS dimId, champion_class AS championClass, shadow_class AS shadowClass, SUM(n) AS n, SUM(w) AS w, SUM(champion_score_w) AS championScoreW, SUM(shadow_score_w) AS shadowScoreW',
      'dim_id, champion_class, shadow_class',
      dimIds,
      ranges,
    );
  }

  async latency(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]> {
    return this.#sum<BinRow>('agg_latency', 'dim_id AS dimId, role, bin, SUM(n) AS n, SUM(w) AS w', 'dim_id, role, bin', dimIds, ranges);
  }

  async scores(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]> {
    return this.#sum<BinRow>('agg_scores', 'dim_id AS dimId, role, bin, SUM(n) AS n, SUM(w) AS w', 'dim_id, role, bin', dimIds, ranges);
  }

  async objects(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<ObjectRow[]> {
    return this.#sum<ObjectRow>('agg_objects', 'dim_id AS dimId, role, class AS classId, SUM(n) AS n, SUM(w) AS w, SUM(score_w) AS scoreW', 'dim_id, role, class', dimIds, ranges);
  }

  async timeline(dimIds: readonly number[], ranges: readonly LevelRange[], bucketS: number): Promise<TimelinePairRow[]> {
    // Floor to the chart bucket (SQLite's % truncates toward zero; buckets before 1970 are negative).
    const t = '(bucket - ((bucket % ?) + ?) % ?)';
    return this.#sum<TimelinePairRow>('agg_pairs', `${t} AS t, champion_class AS championClass, shadow_class AS shadowClass, SUM(n) AS n, SUM(w) AS w`, '1, champion_class, shadow_class', dimIds, ranges, '', [bucketS, bucketS, bucketS]);
  }

  async bucketCounts(dimIds: readonly number[], range: LevelRange): Promise<{ bucket: number; w: number }[]> {
    return this.#sum<{ bucket: number; w: number }>('agg_counts', 'bucket, SUM(w) AS w', 'bucket', dimIds, [range], 'HAVING SUM(n) > 0 ORDER BY bucket');
  }
}
