/** `AggregateReader` on SQLite: each method runs one indexed range query per level range and adds the results up. */
import type Database from 'better-sqlite3';
import { cachedStatement } from '../../sqlite-statements.js';
import { ROLLUP } from './contribution.js';
import type { LevelRange } from './levels.js';
import type { AggregateReader, BinRow, CountsRow, Dim, ObjectRow, PairRow, TimelinePairRow } from './reader.js';

const IN_DIMS = 'dim_id IN (SELECT value FROM json_each(?))';
const RANGE = 'level = ? AND bucket >= ? AND bucket < ?';

/** Sums `cols` of rows with the same `keyCols` across ranges. */
function mergeRows<T extends Record<string, number | null>>(rows: T[], keyCols: (keyof T)[], sumCols: (keyof T)[], minCols: (keyof T)[] = [], maxCols: (keyof T)[] = []): T[] {
  const out = new Map<string, T>();
  for (const r of rows) {
    const key = keyCols.map((k) => r[k]).join('|');
    const prev = out.get(key);
    if (prev === undefined) {
      out.set(key, { ...r });
      continue;
    }
    for (const c of sumCols) (prev[c] as number) = (prev[c] as number) + (r[c] as number);
    for (const c of minCols) if (r[c] !== null && (prev[c] === null || (r[c] as number) < (prev[c] as number))) prev[c] = r[c];
    for (const c of maxCols) if (r[c] !== null && (prev[c] === null || (r[c] as number) > (prev[c] as number))) prev[c] = r[c];
  }
  return [...out.values()];
}

export class SqliteAggregateReader implements AggregateReader {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  #each<T>(sql: string, dimIds: readonly number[], ranges: readonly LevelRange[], extra: unknown[] = []): T[] {
    if (dimIds.length === 0) return [];
    const stmt = cachedStatement(this.#db, sql);
    const ids = JSON.stringify(dimIds);
    return ranges.flatMap((r) => stmt.all(...extra, ids, r.level, r.fromS, r.toS) as T[]);
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
    const rows = this.#each<CountsRow>(
      `SELECT dim_id AS dimId, SUM(n) AS n, SUM(w) AS w, SUM(shadow_n) AS shadowN, SUM(shadow_w) AS shadowW, SUM(lat_sum_w) AS latSumW, SUM(shadow_lat_sum_w) AS shadowLatSumW,
         MIN(lat_min) AS latMin, MAX(lat_max) AS latMax, MIN(shadow_lat_min) AS shadowLatMin, MAX(shadow_lat_max) AS shadowLatMax, MIN(t_min) AS tMin, MAX(t_max) AS tMax
       FROM agg_counts WHERE ${IN_DIMS} AND ${RANGE} AND n > 0 GROUP BY dim_id`,
      dimIds,
      ranges,
    );
    return mergeRows(rows as unknown as Record<string, number | null>[], ['dimId'], ['n', 'w', 'shadowN', 'shadowW', 'latSumW', 'shadowLatSumW'], ['latMin', 'shadowLatMin', 'tMin'], ['latMax', 'shadowLatMax', 'tMax']) as unknown as CountsRow[];
  }

  async pairs(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<PairRow[]> {
    const rows = this.#each<PairRow>(
      `SELECT dim_id AS dimId, champion_class AS championClass, shadow_class AS shadowClass, SUM(n) AS n, SUM(w) AS w, SUM(champion_score_w) AS championScoreW, SUM(shadow_score_w) AS shadowScoreW
       FROM agg_pairs WHERE ${IN_DIMS} AND ${RANGE} GROUP BY dim_id, champion_class, shadow_class`,
      dimIds,
      ranges,
    );
    return mergeRows(rows as unknown as Record<string, number>[], ['dimId', 'championClass', 'shadowClass'], ['n', 'w', 'championScoreW', 'shadowScoreW']) as unknown as PairRow[];
  }

  #bins(table: 'agg_latency' | 'agg_scores', dimIds: readonly number[], ranges: readonly LevelRange[]): BinRow[] {
    const rows = this.#each<BinRow>(`SELECT dim_id AS dimId, role, bin, SUM(n) AS n, SUM(w) AS w FROM ${table} WHERE ${IN_DIMS} AND ${RANGE} GROUP BY dim_id, role, bin`, dimIds, ranges);
    return mergeRows(rows as unknown as Record<string, number>[], ['dimId', 'role', 'bin'], ['n', 'w']) as unknown as BinRow[];
  }

  async latency(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]> {
    return this.#bins('agg_latency', dimIds, ranges);
  }

  async scores(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]> {
    return this.#bins('agg_scores', dimIds, ranges);
  }

  async objects(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<ObjectRow[]> {
    const rows = this.#each<ObjectRow>(
      `SELECT dim_id AS dimId, role, class AS classId, SUM(n) AS n, SUM(w) AS w, SUM(score_w) AS scoreW FROM agg_objects WHERE ${IN_DIMS} AND ${RANGE} GROUP BY dim_id, role, class`,
      dimIds,
      ranges,
    );
    return mergeRows(rows as unknown as Record<string, number>[], ['dimId', 'role', 'classId'], ['n', 'w', 'scoreW']) as unknown as ObjectRow[];
  }

  async timeline(dimIds: readonly number[], ranges: readonly LevelRange[], bucketS: number): Promise<TimelinePairRow[]> {
    const rows = this.#each<TimelinePairRow>(
      `SELECT (bucket - ((bucket % ?) + ?) % ?) AS t, champion_class AS championClass, shadow_class AS shadowClass, SUM(n) AS n, SUM(w) AS w
       FROM agg_pairs WHERE ${IN_DIMS} AND ${RANGE} GROUP BY 1, champion_class, shadow_class`,
      dimIds,
      ranges,
      [bucketS, bucketS, bucketS],
    );
    return mergeRows(rows as unknown as Record<string, number>[], ['t', 'championClass', 'shadowClass'], ['n', 'w']) as unknown as TimelinePairRow[];
  }

  async bucketCounts(dimIds: readonly number[], range: LevelRange): Promise<{ bucket: number; w: number }[]> {
    return this.#each<{ bucket: number; w: number }>(`SELECT bucket, SUM(w) AS w FROM agg_counts WHERE ${IN_DIMS} AND ${RANGE} GROUP BY bucket HAVING SUM(n) > 0 ORDER BY bucket`, dimIds, [range]);
  }

}
