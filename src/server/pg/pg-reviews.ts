/**
 * Reviews and predicted-asset queries on PostgreSQL (`ReviewsStore`; SQLite: reviews/review-store.ts, same answers).
 * The verdict's counters (`period_traffic`, `period_disagreements`) are kept by the triggers of registry-schema.ts.
 */
import { randomUUID } from 'node:crypto';
import { AGREE, ASSET_ORDER, DISAGREE, REVIEWED, REVIEWED_PREDICTION_COLUMNS, reviewOf, UNREVIEWED, reviewedPredictionOf, type AssetQuery, type PairVersions, type ReviewDbRow, type ReviewedPair, type ReviewedPrediction, type ReviewRow } from '../reviews/review-store.js';
import type { ReviewsStore } from '../store-api.js';
import type { PgSql } from './pg-store.js';

/** Positional parameters built as a query is written: `add(value)` gives its `$n`. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** See `RAN_BY` in reviews/review-store.ts: a prediction judges a pair unless its agent names another version. */
function ranBy(v: PairVersions, params: Params): string {
  const c = `${params.add(v.champion)}::text`;
  const s = `${params.add(v.shadow)}::text`;
  return `(${c} IS NULL OR COALESCE(p.custom_metadata_json::jsonb #>> '{edgewatch,champion,modelVersionId}', ${c}) = ${c})
    AND (${s} IS NULL OR p.shadow_json IS NULL OR COALESCE(p.custom_metadata_json::jsonb #>> '{edgewatch,shadow,modelVersionId}', ${s}) = ${s})`;
}

function whereOf(q: Omit<AssetQuery, 'order' | 'limit' | 'offset'>, params: Params): string {
  const parts = [`p.deployment_id = ${params.add(q.deploymentId)}`];
  if (q.sinceS !== undefined) parts.push(`p.received_s >= ${params.add(q.sinceS)}`);
  if (q.reviewed !== undefined) parts.push(q.reviewed ? REVIEWED : UNREVIEWED);
  if (q.disagreement !== undefined) parts.push(q.disagreement ? DISAGREE : AGREE);
  if (q.paired !== undefined) parts.push(q.paired ? 'p.shadow_json IS NOT NULL' : 'p.shadow_json IS NULL');
  if (q.filename !== undefined) parts.push(`p.filename = ${params.add(q.filename)}`);
  if (q.search !== undefined) parts.push(`strpos(lower(p.filename), lower(${params.add(q.search)})) > 0`);
  if (q.ranBy !== undefined) parts.push(ranBy(q.ranBy, params));
  return parts.join(' AND ');
}

/** `ReviewsStore` on the service's PostgreSQL pool. */
export class PgReviewStore implements ReviewsStore {
  readonly #sql: PgSql;

  constructor(sql: PgSql) {
    this.#sql = sql;
  }

  async listIds(q: AssetQuery): Promise<{ ids: string[]; count: number }> {
    const params = new Params();
    const where = whereOf(q, params);
    const filters = [...params.values];
    const page = `SELECT p.id FROM predictions p WHERE ${where} ORDER BY ${ASSET_ORDER[q.order]} LIMIT ${params.add(q.limit)} OFFSET ${params.add(q.offset)}`;
    const [ids, count] = await Promise.all([this.#sql.rows<{ id: string }>(page, params.values), this.#sql.rows<{ n: number }>(`SELECT COUNT(*) AS n FROM predictions p WHERE ${where}`, filters)]);
    return { ids: ids.map((r) => r.id), count: count[0]?.n ?? 0 };
  }

  async get(predictionId: string): Promise<ReviewRow | undefined> {
    const r = (await this.#sql.rows<ReviewDbRow>('SELECT * FROM prediction_reviews WHERE prediction_id = $1', [predictionId]))[0];
    return r && reviewOf(r);
  }

  async getMany(predictionIds: readonly string[]): Promise<Map<string, ReviewRow>> {
    if (predictionIds.length === 0) return new Map();
    const rows = await this.#sql.rows<ReviewDbRow>('SELECT * FROM prediction_reviews WHERE prediction_id = ANY($1::text[])', [predictionIds]);
    return new Map(rows.map((r) => [r.prediction_id, reviewOf(r)] as const));
  }

  /** Stores the review; undefined when it already has one, or when its prediction is gone (deleted by retention meanwhile). */
  async add(predictionId: string, deploymentId: string, body: ReviewRow['body'], labels: string[]): Promise<ReviewRow | undefined> {
    const row: ReviewRow = { id: randomUUID(), predictionId, deploymentId, body, labels, createdS: Date.now() / 1000 };
    try {
      // The foreign key locks the prediction until this commits: a retention pass deleting it waits, then sees the review.
      const rows = await this.#sql.rows(
        `INSERT INTO prediction_reviews (prediction_id, id, deployment_id, body_json, labels_json, created_s)
         SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM predictions WHERE id = $1) ON CONFLICT DO NOTHING RETURNING id`,
        [predictionId, row.id, deploymentId, JSON.stringify(body), JSON.stringify(labels), row.createdS],
      );
      return rows.length === 1 ? row : undefined;
    } catch (err) {
      if ((err as { code?: unknown }).code === '23503') return undefined; // deleted while the review was being stored
      throw err;
    }
  }

  async reviewedAmong(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    return new Set((await this.#sql.rows<{ id: string }>('SELECT prediction_id AS id FROM prediction_reviews WHERE prediction_id = ANY($1::text[])', [ids])).map((r) => r.id));
  }

  async periodTraffic(deploymentId: string, periodSeq: number): Promise<{ agreements: number; disagreements: number }> {
    const r = (await this.#sql.rows<{ agreements: number; disagreements: number }>('SELECT agreements, disagreements FROM period_traffic WHERE deployment_id = $1 AND period_seq = $2', [deploymentId, periodSeq]))[0];
    return r ?? { agreements: 0, disagreements: 0 };
  }

  /** The review queue of a period from the trigger-kept list (see `ReviewStore.queuePage`). */
  async queuePage(deploymentId: string, period: { seq: number; sinceS: number }, versions: PairVersions, limit: number): Promise<{ ids: string[]; count: number }> {
    const disagreements = (await this.#sql.rows<{ id: string }>(
      `SELECT d.prediction_id AS id FROM period_disagreements d
       WHERE d.deployment_id = $1 AND d.period_seq = $2 AND NOT EXISTS (SELECT 1 FROM prediction_reviews r WHERE r.prediction_id = d.prediction_id)
       ORDER BY d.received_s DESC LIMIT $3`,
      [deploymentId, period.seq, limit],
    )).map((r) => r.id);
    let agreements: string[] = [];
    if (disagreements.length < limit) {
      const params = new Params();
      const sql = `SELECT p.id FROM predictions p
        WHERE p.deployment_id = ${params.add(deploymentId)} AND ${AGREE}
          AND p.received_s >= ${params.add(period.sinceS)} AND ${ranBy(versions, params)} AND ${UNREVIEWED}
        ORDER BY p.timestamp_s DESC LIMIT ${params.add(limit - disagreements.length)}`;
      agreements = (await this.#sql.rows<{ id: string }>(sql, params.values)).map((r) => r.id);
    }
    const [traffic, reviewed] = await Promise.all([this.periodTraffic(deploymentId, period.seq), this.reviewedPairs(deploymentId, { sinceS: period.sinceS }, versions)]);
    return { ids: [...disagreements, ...agreements], count: Math.max(0, traffic.agreements + traffic.disagreements - reviewed.length) };
  }

  async reviewedPairs(deploymentId: string, range: { sinceS: number; untilS?: number | undefined }, versions: PairVersions): Promise<ReviewedPair[]> {
    const params = new Params();
    const sql = `SELECT p.champion_class AS "championClass", p.shadow_class AS "shadowClass", r.labels_json AS labels
      FROM prediction_reviews r JOIN predictions p ON p.id = r.prediction_id
      WHERE r.deployment_id = ${params.add(deploymentId)} AND p.received_s >= ${params.add(range.sinceS)} AND p.received_s < ${params.add(range.untilS ?? Number.MAX_VALUE)}
        AND p.shadow_json IS NOT NULL AND ${ranBy(versions, params)}`;
    return (await this.#sql.rows<{ championClass: number | null; shadowClass: number | null; labels: string }>(sql, params.values)).map((r) => ({ ...r, labels: JSON.parse(r.labels) as string[] }));
  }

  /** One page of reviewed predictions captured in [fromS, toS), after prediction id `afterId` (see `ReviewStore.reviewedPage`). */
  async reviewedPage(deploymentId: string, range: { fromS: number; toS: number }, afterId: string, limit: number): Promise<ReviewedPrediction[]> {
    const rows = await this.#sql.rows<Record<string, unknown>>(
      `SELECT ${REVIEWED_PREDICTION_COLUMNS}, (p.custom_metadata_json::jsonb #> '{edgewatch,sampling,probability}') AS sampling
       FROM prediction_reviews r JOIN predictions p ON p.id = r.prediction_id
       WHERE r.prediction_id > $1 AND r.deployment_id = $2 AND p.timestamp_s >= $3 AND p.timestamp_s < $4 ORDER BY r.prediction_id LIMIT $5`,
      [afterId, deploymentId, range.fromS, range.toS, limit],
    );
    return rows.map(reviewedPredictionOf);
  }

  /** Retention candidates that are not reviewed, captured first (see `ReviewStore.oldestUnreviewed`). */
  oldestUnreviewed(limit: number, beforeS?: number): Promise<{ id: string; imagePath: string; imageBytes: number; timestampS: number }[]> {
    const columns = `SELECT id, image_path AS "imagePath", image_bytes AS "imageBytes", timestamp_s AS "timestampS" FROM predictions p WHERE ${UNREVIEWED}`;
    return beforeS === undefined
      ? this.#sql.rows(`${columns} ORDER BY timestamp_s LIMIT $1`, [limit])
      : this.#sql.rows(`${columns} AND timestamp_s < $1 ORDER BY timestamp_s LIMIT $2`, [beforeS, limit]);
  }
}
