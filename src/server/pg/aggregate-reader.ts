/**
 * `AggregateReader` on PostgreSQL: one query per call, the level ranges joined as arrays (`unnest`), summed by the
 * database. Same results as `aggregates/sqlite-reader.ts` (the store tests compare them).
 */
import { ROLLUP } from '../aggregates/contribution.js';
import { RESOLUTION_S, type LevelRange } from '../aggregates/levels.js';
import type { AggregateReader, BinRow, CountsRow, Dim, ObjectRow, PairRow, TimelinePairRow } from '../aggregates/reader.js';

const RANGES = 'JOIN unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS r (level, f, t) ON a.level = r.level AND a.bucket >= r.f AND a.bucket < r.t';
const IN_DIMS = 'a.dim_id = ANY($1::bigint[])';

/** Sums and ids come back as numbers: the store's pool parses int8 and numeric as JavaScript numbers. */
export class PgAggregateReader implements AggregateReader {
  readonly #query: <T>(sql: string, params: unknown[]) => Promise<T[]>;

  /** `query` runs one statement on the store's pool (with its error mapping) and returns the rows. */
  constructor(query: <T>(sql: string, params: unknown[]) => Promise<T[]>) {
    this.#query = query;
  }

  #ranged<T>(sql: string, dimIds: readonly number[], ranges: readonly LevelRange[], extra: unknown[] = []): Promise<T[]> {
    if (dimIds.length === 0 || ranges.length === 0) return Promise.resolve([]);
    return this.#query<T>(sql, [dimIds, ranges.map((r) => r.level), ranges.map((r) => r.fromS), ranges.map((r) => r.toS), ...extra]);
  }

  async dims(deploymentId: string): Promise<Dim[]> {
    const rows = await this.#query<{ id: number; champion_version: string; shadow_version: string; source: string; tags_json: string; names_json: string }>(
      'SELECT id, champion_version, shadow_version, source, tags_json, names_json FROM agg_dims WHERE deployment_id = $1 ORDER BY id',
      [deploymentId],
    );
    return rows.map((r) => {
      const rollup = r.tags_json === ROLLUP;
      const names = rollup ? { champion: null, shadow: null, backend: null, agentVersion: null } : (JSON.parse(r.names_json) as Dim['names']);
      return { id: Number(r.id), rollup, championVersion: r.champion_version, shadowVersion: r.shadow_version, source: r.source, tags: rollup ? [] : (JSON.parse(r.tags_json) as string[]), names };
    });
  }

  counts(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<CountsRow[]> {
    return this.#ranged<CountsRow>(
      `SELECT a.dim_id AS "dimId", SUM(n) AS n, SUM(w) AS w, SUM(shadow_n) AS "shadowN", SUM(shadow_w) AS "shadowW", SUM(lat_sum_w) AS "latSumW", SUM(shadow_lat_sum_w) AS "shadowLatSumW",
         MIN(lat_min) AS "latMin", MAX(lat_max) AS "latMax", MIN(shadow_lat_min) AS "shadowLatMin", MAX(shadow_lat_max) AS "shadowLatMax", MIN(t_min) AS "tMin", MAX(t_max) AS "tMax"
       FROM agg_counts a ${RANGES} WHERE ${IN_DIMS} AND a.n > 0 GROUP BY a.dim_id`,
      dimIds,
      ranges,
    );
  }

  pairs(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<PairRow[]> {
    return this.#ranged<PairRow>(
      `SELECT a.dim_id AS "dimId", champion_class AS "championClass", shadow_class AS "shadowClass", SUM(n) AS n, SUM(w) AS w, SUM(champion_score_w) AS "championScoreW", SUM(shadow_score_w) AS "shadowScoreW"
       FROM agg_pairs a ${RANGES} WHERE ${IN_DIMS} GROUP BY a.dim_id, champion_class, shadow_class`,
      dimIds,
      ranges,
    );
  }

  #bins(table: 'agg_latency' | 'agg_scores', dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]> {
    return this.#ranged<BinRow>(`SELECT a.dim_id AS "dimId", role, bin, SUM(n) AS n, SUM(w) AS w FROM ${table} a ${RANGES} WHERE ${IN_DIMS} GROUP BY a.dim_id, role, bin`, dimIds, ranges);
  }

  latency(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]> {
    return this.#bins('agg_latency', dimIds, ranges);
  }

  scores(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<BinRow[]> {
    return this.#bins('agg_scores', dimIds, ranges);
  }

  objects(dimIds: readonly number[], ranges: readonly LevelRange[]): Promise<ObjectRow[]> {
    return this.#ranged<ObjectRow>(
      `SELECT a.dim_id AS "dimId", role, class AS "classId", SUM(n) AS n, SUM(w) AS w, SUM(score_w) AS "scoreW" FROM agg_objects a ${RANGES} WHERE ${IN_DIMS} GROUP BY a.dim_id, role, class`,
      dimIds,
      ranges,
    );
  }

  timeline(dimIds: readonly number[], ranges: readonly LevelRange[], bucketS: number): Promise<TimelinePairRow[]> {
    return this.#ranged<TimelinePairRow>(
      `SELECT (a.bucket - ((a.bucket % $5) + $5) % $5) AS t, champion_class AS "championClass", shadow_class AS "shadowClass", SUM(n) AS n, SUM(w) AS w
       FROM agg_pairs a ${RANGES} WHERE ${IN_DIMS} GROUP BY 1, champion_class, shadow_class`,
      dimIds,
      ranges,
      [bucketS],
    );
  }

  bucketCounts(dimIds: readonly number[], range: LevelRange): Promise<{ bucket: number; w: number }[]> {
    return this.#ranged<{ bucket: number; w: number }>(`SELECT a.bucket, SUM(w) AS w FROM agg_counts a ${RANGES} WHERE ${IN_DIMS} GROUP BY a.bucket HAVING SUM(n) > 0 ORDER BY a.bucket`, dimIds, [range]);
  }

  /** Weighted counts per minute bucket from `fromS` forwards (or from `toS` backwards), at most `limit` buckets. */
  minuteCounts(dimIds: readonly number[], fromS: number, toS: number, backwards: boolean, limit: number): Promise<{ bucket: number; w: number }[]> {
    return this.#ranged<{ bucket: number; w: number }>(
      `SELECT a.bucket, SUM(w) AS w FROM agg_counts a ${RANGES} WHERE ${IN_DIMS} GROUP BY a.bucket HAVING SUM(n) > 0 ORDER BY a.bucket ${backwards ? 'DESC' : 'ASC'} LIMIT $5`,
      dimIds,
      [{ level: RESOLUTION_S, fromS, toS }],
      [limit],
    );
  }
}
