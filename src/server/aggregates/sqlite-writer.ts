/**
 * Applies contributions to the aggregate tables of a SQLite database. Contributions of a batch are merged in memory
 * first (one upsert per touched row, not per prediction), then written with the portable upserts of `schema.ts`.
 * The caller runs `apply` inside the transaction that stores (or changes) the predictions.
 */
import type Database from 'better-sqlite3';
import { cachedStatement } from '../../sqlite-statements.js';
import { MAX_DIMS_PER_DEPLOYMENT, overflowOf, ROLLUP, rollupOf, type Contribution, type DimKey } from './contribution.js';
import { LEVELS_S, bucketOf } from './levels.js';
import { UPSERT } from './schema.js';

type Counts = Contribution['counts'];
type SumTable = 'pairs' | 'latency' | 'scores' | 'objects';
const minN = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxN = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

function mergeCounts(a: Counts, b: Counts): Counts {
  return {
    n: a.n + b.n, w: a.w + b.w, shadowN: a.shadowN + b.shadowN, shadowW: a.shadowW + b.shadowW, latSumW: a.latSumW + b.latSumW, shadowLatSumW: a.shadowLatSumW + b.shadowLatSumW,
    latMin: minN(a.latMin, b.latMin), latMax: maxN(a.latMax, b.latMax), shadowLatMin: minN(a.shadowLatMin, b.shadowLatMin), shadowLatMax: maxN(a.shadowLatMax, b.shadowLatMax),
    tMin: minN(a.tMin, b.tMin), tMax: maxN(a.tMax, b.tMax),
  };
}

/** Rows of one batch, merged by key: `[...key columns, ...summed columns]` (the PostgreSQL writer shares it). */
export class PendingRows {
  readonly counts = new Map<string, { k: number[]; v: Counts }>();
  readonly sums: Record<SumTable, Map<string, number[]>> = { pairs: new Map(), latency: new Map(), scores: new Map(), objects: new Map() };

  #add(table: SumTable, keyCols: number[], valueCols: number[]): void {
    const m = this.sums[table];
    const key = keyCols.join('|');
    const row = m.get(key);
    if (row === undefined) m.set(key, [...keyCols, ...valueCols]);
    else valueCols.forEach((v, i) => (row[keyCols.length + i] = (row[keyCols.length + i] as number) + v));
  }

  /** Adds `c` to dimension `dim` at every level. */
  add(dim: number, c: Contribution): void {
    for (const level of LEVELS_S) {
      const k = [dim, level, bucketOf(c.timestampS, level)];
      const ck = k.join('|');
      const prev = this.counts.get(ck);
      if (prev === undefined) this.counts.set(ck, { k, v: { ...c.counts } });
      else prev.v = mergeCounts(prev.v, c.counts);
      const p = c.pair;
      this.#add('pairs', [...k, p.championClass, p.shadowClass], [p.n, p.w, p.championScoreW, p.shadowScoreW]);
      for (const l of c.latency) this.#add('latency', [...k, l.role, l.bin], [l.n, l.w]);
      for (const s of c.scores) this.#add('scores', [...k, s.role, s.bin], [s.n, s.w]);
      for (const o of c.objects) this.#add('objects', [...k, o.role, o.classId], [o.n, o.w, o.scoreW]);
    }
  }
}

/** Writes aggregates; keeps the ids of dimensions it has seen (dimensions are never deleted, so the cache cannot go stale). */
export class SqliteAggregateWriter {
  readonly #db: Database.Database;
  readonly #dimIds = new Map<string, number>();
  /** Exact dimensions per deployment, counted once from the database, then kept up to date. */
  readonly #exactDims = new Map<string, number>();
  readonly #maxDims: number;

  constructor(db: Database.Database, maxDimsPerDeployment = MAX_DIMS_PER_DEPLOYMENT) {
    this.#db = db;
    this.#maxDims = maxDimsPerDeployment;
  }

  #lookup(d: DimKey): number | undefined {
    const params = [d.deploymentId, d.championVersion, d.shadowVersion, d.source, d.tagsJson, d.namesJson];
    const key = JSON.stringify(params);
    let id = this.#dimIds.get(key);
    if (id === undefined) {
      id = (cachedStatement(this.#db, UPSERT.dimId).get(...params) as { id: number } | undefined)?.id;
      if (id !== undefined) this.#dimIds.set(key, id);
    }
    return id;
  }

  #create(d: DimKey): number {
    cachedStatement(this.#db, UPSERT.dim).run(d.deploymentId, d.championVersion, d.shadowVersion, d.source, d.tagsJson, d.namesJson);
    return this.#lookup(d) as number;
  }

  /** The id of `d`, created if new; a new exact dimension beyond the deployment's cap is its overflow dimension instead. */
  #dimId(d: DimKey): number {
    const known = this.#lookup(d);
    if (known !== undefined) return known;
    if (d.tagsJson === ROLLUP) return this.#create(d);
    let n = this.#exactDims.get(d.deploymentId);
    if (n === undefined) {
      n = (cachedStatement(this.#db, 'SELECT COUNT(*) AS n FROM agg_dims WHERE deployment_id = ? AND tags_json <> ?').get(d.deploymentId, ROLLUP) as { n: number }).n;
    }
    if (n >= this.#maxDims) {
      const overflow = overflowOf(d);
      const id = this.#lookup(overflow);
      if (id !== undefined) return id;
    }
    this.#exactDims.set(d.deploymentId, n + 1);
    return this.#create(n >= this.#maxDims ? overflowOf(d) : d);
  }

  /** Adds the contributions, each to its own dimension and to its roll-up, at every level (inside the caller's transaction). */
  apply(contributions: readonly Contribution[]): void {
    const pending = new PendingRows();
    for (const c of contributions) {
      pending.add(this.#dimId(c.dim), c);
      pending.add(this.#dimId(rollupOf(c.dim)), c);
    }
    const countsStmt = cachedStatement(this.#db, UPSERT.counts);
    for (const { k, v } of pending.counts.values()) {
      countsStmt.run(...k, v.n, v.w, v.shadowN, v.shadowW, v.latSumW, v.shadowLatSumW, v.latMin, v.latMax, v.shadowLatMin, v.shadowLatMax, v.tMin, v.tMax);
    }
    for (const table of ['pairs', 'latency', 'scores', 'objects'] as const) {
      const stmt = cachedStatement(this.#db, UPSERT[table]);
      for (const row of pending.sums[table].values()) stmt.run(...row);
    }
  }
}
