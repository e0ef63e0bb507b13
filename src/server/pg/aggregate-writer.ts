/**
 * Applies contributions to the aggregate tables of PostgreSQL: a batch is merged in memory (`PendingRows`, as on
 * SQLite), then each table gets one multi-row upsert (`INSERT … SELECT FROM unnest(…) ON CONFLICT … DO UPDATE`, the
 * SET clauses of `aggregates/schema.ts`). Rows are written in key order, tables in a fixed order, so that concurrent
 * transactions of several replicas lock shared bucket rows in the same order (no deadlock between them).
 */
import type pg from 'pg';
import { rollupOf, type Contribution, type DimKey } from '../aggregates/contribution.js';
import { UPSERT } from '../aggregates/schema.js';
import { PendingRows } from '../aggregates/sqlite-writer.js';

type Table = 'counts' | 'pairs' | 'latency' | 'scores' | 'objects';
const I = 'bigint';
const F = 'float8';
/** Column types of each upsert, in its column order (keys first). */
const TYPES: Record<Table, string[]> = {
  counts: [I, I, I, I, F, I, F, F, F, F, F, F, F, F, F],
  pairs: [I, I, I, I, I, I, F, F, F],
  latency: [I, I, I, I, I, I, F],
  scores: [I, I, I, I, I, I, F],
  objects: [I, I, I, I, I, I, F, F],
};
const KEY_COLUMNS: Record<Table, number> = { counts: 3, pairs: 5, latency: 5, scores: 5, objects: 5 };
const TABLES: readonly Table[] = ['counts', 'pairs', 'latency', 'scores', 'objects'];

/**
 * SQLite's one-row upsert of `table` as a PostgreSQL upsert of arrays (one parameter per column, numbered from
 * `first`), its rows kept only when `guard` (an SQL condition) holds.
 */
function arrayUpsert(table: Table, first = 1, guard = ''): string {
  const sql = UPSERT[table];
  const values = /VALUES \((\?(?:, \?)*)\)/.exec(sql);
  const types = TYPES[table];
  if (values === null || (values[1] as string).split(',').length !== types.length) throw new Error(`aggregates/schema.ts UPSERT.${table} changed: update pg/aggregate-writer.ts`);
  return sql.replace(values[0], `SELECT * FROM unnest(${types.map((t, i) => `$${first + i}::${t}[]`).join(', ')})${guard === '' ? '' : ` WHERE ${guard}`}`);
}
const SQL = Object.fromEntries(TABLES.map((t) => [t, arrayUpsert(t)])) as Record<Table, string>;

/** The column arrays of `table`'s pending rows, sorted by key (the lock order every writer follows). */
function columnsOf(pending: PendingRows, table: Table): unknown[][] | null {
  const rows =
    table === 'counts'
      ? [...pending.counts.values()].map(({ k, v }) => [...k, v.n, v.w, v.shadowN, v.shadowW, v.latSumW, v.shadowLatSumW, v.latMin, v.latMax, v.shadowLatMin, v.shadowLatMax, v.tMin, v.tMax])
      : [...pending.sums[table].values()];
  if (rows.length === 0) return null;
  const keys = KEY_COLUMNS[table];
  rows.sort((a, b) => compareKeys(a as number[], b as number[], keys));
  return TYPES[table].map((_, i) => rows.map((r) => r[i] ?? null));
}

const DIM_ID = `WITH added AS (
    INSERT INTO agg_dims (deployment_id, champion_version, shadow_version, source, tags_json, names_json) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (deployment_id, champion_version, shadow_version, source, tags_json, names_json) DO NOTHING RETURNING id)
  SELECT id FROM added UNION ALL
  SELECT id FROM agg_dims WHERE deployment_id = $1 AND champion_version = $2 AND shadow_version = $3 AND source = $4 AND tags_json = $5 AND names_json = $6 LIMIT 1`;

function compareKeys(a: readonly number[], b: readonly number[], n: number): number {
  for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** Writes aggregates. Dimensions are created outside any transaction (and never deleted), so their cached ids cannot go stale. */
export class PgAggregateWriter {
  readonly #query: <T>(sql: string, params: unknown[]) => Promise<T[]>;
  readonly #dimIds = new Map<string, number>();

  /** `query` runs one statement outside any transaction (the store's pool, with its error mapping). */
  constructor(query: <T>(sql: string, params: unknown[]) => Promise<T[]>) {
    this.#query = query;
  }

  static #key(d: DimKey): string {
    return JSON.stringify([d.deploymentId, d.championVersion, d.shadowVersion, d.source, d.tagsJson, d.namesJson]);
  }

  /** Creates (or finds) the dimensions of `contributions` and their roll-ups; call before the transaction that writes them. */
  async resolveDims(contributions: readonly Contribution[]): Promise<void> {
    for (const c of contributions) {
      for (const d of [c.dim, rollupOf(c.dim)]) {
        const key = PgAggregateWriter.#key(d);
        if (this.#dimIds.has(key)) continue;
        const params = [d.deploymentId, d.championVersion, d.shadowVersion, d.source, d.tagsJson, d.namesJson];
        // A replica inserting the same dimension at the same time: ours does nothing and its row is not yet visible to this statement; ask again.
        for (let attempt = 0; ; attempt += 1) {
          const row = (await this.#query<{ id: number }>(DIM_ID, params))[0];
          if (row !== undefined) {
            this.#dimIds.set(key, Number(row.id));
            break;
          }
          if (attempt >= 5) throw new Error(`aggregate dimension of deployment ${d.deploymentId} could not be created`);
        }
      }
    }
  }

  /** Rows of `contributions` (whose dimensions `resolveDims` has seen), merged. */
  pendingOf(contributions: readonly Contribution[]): PendingRows {
    const pending = new PendingRows();
    const idOf = (d: DimKey): number => {
      const id = this.#dimIds.get(PgAggregateWriter.#key(d));
      if (id === undefined) throw new Error('PgAggregateWriter: resolveDims was not called for this contribution');
      return id;
    };
    for (const c of contributions) {
      pending.add(idOf(c.dim), c);
      pending.add(idOf(rollupOf(c.dim)), c);
    }
    return pending;
  }

  /** Upserts `pending` with `client` (inside the caller's transaction), one statement per table. */
  async write(client: pg.PoolClient, pending: PendingRows): Promise<void> {
    for (const table of TABLES) {
      const columns = columnsOf(pending, table);
      if (columns !== null) await client.query(SQL[table], columns);
    }
  }

  /**
   * The upserts of `pending` as data-modifying CTEs (`agg_<table> AS (INSERT …)`), parameters numbered from `first`,
   * each row written only when `guard` holds: one statement can then store a prediction and its aggregates.
   */
  ctes(pending: PendingRows, first: number, guard: string): { sql: string[]; params: unknown[] } {
    const sql: string[] = [];
    const params: unknown[] = [];
    for (const table of TABLES) {
      const columns = columnsOf(pending, table);
      if (columns === null) continue;
      sql.push(`agg_${table} AS (${arrayUpsert(table, first + params.length, guard)})`);
      params.push(...columns);
    }
    return { sql, params };
  }
}
