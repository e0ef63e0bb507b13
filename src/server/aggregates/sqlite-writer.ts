/**
 * Applies contributions to the aggregate tables of a SQLite database. Contributions of a batch are merged in memory
 * first (one upsert per touched row, not per prediction), then written with the portable upserts of `schema.ts`.
 * The caller runs `apply` inside the transaction that stores (or changes) the predictions.
 */
import type Database from 'better-sqlite3';
import { cachedStatement } from '../../sqlite-statements.js';
import type { Contribution, DimKey } from './contribution.js';
import { LEVELS_S, bucketOf } from './levels.js';
import { UPSERT } from './schema.js';

type Counts = Contribution['counts'];
const minN = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxN = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** Writes aggregates; keeps the ids of dimensions it has seen (dimensions are never deleted, so the cache cannot go stale). */
export class SqliteAggregateWriter {
  readonly #db: Database.Database;
  readonly #dimIds = new Map<string, number>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  #dimId(d: DimKey): number {
    const params = [d.deploymentId, d.championVersion, d.shadowVersion, d.source, d.tagsJson, d.namesJson];
    const key = JSON.stringify(params);
    let id = this.#dimIds.get(key);
    if (id === undefined) {
      cachedStatement(this.#db, UPSERT.dim).run(...params);
      id = (cachedStatement(this.#db, UPSERT.dimId).get(...params) as { id: number }).id;
      this.#dimIds.set(key, id);
    }
    return id;
  }

  /** Adds the contributions to every level (inside the caller's transaction). */
  apply(contributions: readonly Contribution[]): void {
    const counts = new Map<string, { k: number[]; v: Counts }>();
    const sums = { pairs: new Map<string, number[]>(), latency: new Map<string, number[]>(), scores: new Map<string, number[]>(), objects: new Map<string, number[]>() };
    // A row's key columns then its summed columns; rows with equal keys add up.
    const add = (m: Map<string, number[]>, keyCols: number[], valueCols: number[]) => {
      const key = keyCols.join('|');
      const row = m.get(key);
      if (row === undefined) m.set(key, [...keyCols, ...valueCols]);
      else valueCols.forEach((v, i) => (row[keyCols.length + i] = (row[keyCols.length + i] as number) + v));
    };
    for (const c of contributions) {
      const dim = this.#dimId(c.dim);
      for (const level of LEVELS_S) {
        const k = [dim, level, bucketOf(c.timestampS, level)];
        const ck = k.join('|');
        const prev = counts.get(ck);
        if (prev === undefined) counts.set(ck, { k, v: { ...c.counts } });
        else {
          const a = prev.v;
          const b = c.counts;
          prev.v = {
            n: a.n + b.n, w: a.w + b.w, shadowN: a.shadowN + b.shadowN, shadowW: a.shadowW + b.shadowW, latSumW: a.latSumW + b.latSumW, shadowLatSumW: a.shadowLatSumW + b.shadowLatSumW,
            latMin: minN(a.latMin, b.latMin), latMax: maxN(a.latMax, b.latMax), shadowLatMin: minN(a.shadowLatMin, b.shadowLatMin), shadowLatMax: maxN(a.shadowLatMax, b.shadowLatMax),
            tMin: minN(a.tMin, b.tMin), tMax: maxN(a.tMax, b.tMax),
          };
        }
        const p = c.pair;
        add(sums.pairs, [...k, p.championClass, p.shadowClass], [p.n, p.w, p.championScoreW, p.shadowScoreW]);
        for (const l of c.latency) add(sums.latency, [...k, l.role, l.bin], [l.n, l.w]);
        for (const s of c.scores) add(sums.scores, [...k, s.role, s.bin], [s.n, s.w]);
        for (const o of c.objects) add(sums.objects, [...k, o.role, o.classId], [o.n, o.w, o.scoreW]);
      }
    }
    const countsStmt = cachedStatement(this.#db, UPSERT.counts);
    for (const { k, v } of counts.values()) {
      countsStmt.run(...k, v.n, v.w, v.shadowN, v.shadowW, v.latSumW, v.shadowLatSumW, v.latMin, v.latMax, v.shadowLatMin, v.shadowLatMax, v.tMin, v.tMax);
    }
    for (const name of ['pairs', 'latency', 'scores', 'objects'] as const) {
      const stmt = cachedStatement(this.#db, UPSERT[name]);
      for (const row of sums[name].values()) stmt.run(...row);
    }
  }
}
