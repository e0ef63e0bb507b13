/**
 * Reviews of predicted assets (one per stored prediction, the ground truth of both champion and shadow) and the
 * queries over the `predictions` table the predicted-asset API, the review queue and the verdict need.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { cachedStatement } from '../../sqlite-statements.js';

/** A stored review. `labels` are the label names of its classifications, rectangles and polygons. */
export interface ReviewRow {
  id: string;
  predictionId: string;
  deploymentId: string;
  body: { classifications?: { label: string }[]; rectangles?: unknown[]; polygons?: unknown[] };
  labels: string[];
  createdS: number;
}

/** Filters of a predicted-asset listing. */
export interface AssetQuery {
  deploymentId: string;
  /** Only predictions received at or after this time (a comparison period). */
  sinceS?: number | undefined;
  reviewed?: boolean | undefined;
  /** Only predictions with a shadow whose top-1 differs from (true) or equals (false) the champion's. */
  disagreement?: boolean | undefined;
  /** Only predictions with (true) or without (false) a shadow prediction. */
  paired?: boolean | undefined;
  filename?: string | undefined;
  /** Substring of the filename (`q`). */
  search?: string | undefined;
  /** Only predictions that did not run other versions than these (see `RAN_BY`). */
  ranBy?: PairVersions | undefined;
  /** `created_at` ascending/descending (reception time), or disagreements first then newest. */
  order: 'created_at' | '-created_at' | 'disagreements_first';
  limit: number;
  offset: number;
}

/** The champion and shadow model versions of a comparison period (null: none named). */
export interface PairVersions {
  champion: string | null;
  shadow: string | null;
}

/**
 * A prediction counts for a period's pair unless the agent says (`custom_metadata.edgewatch.<role>.modelVersionId`, sent
 * by agents that take their models from the deployment) that another version ran: a box that had not yet followed a
 * promotion is credited to the new pair by the protocol, but its predictions do not judge the new pair.
 */
const RAN_BY = `(? IS NULL OR COALESCE(json_extract(p.custom_metadata_json, '$.edgewatch.champion.modelVersionId'), ?) = ?)
  AND (? IS NULL OR p.shadow_json IS NULL OR COALESCE(json_extract(p.custom_metadata_json, '$.edgewatch.shadow.modelVersionId'), ?) = ?)`;

function ranByParams(v: PairVersions): unknown[] {
  return [v.champion, v.champion, v.champion, v.shadow, v.shadow, v.shadow];
}

/** A reviewed prediction, as the SDK's stats read it (`aggregates/sdk-reviews.ts`). */
export interface ReviewedPrediction {
  predictionId: string;
  championClass: number | null;
  /** Null with `paired` false: no shadow prediction. */
  shadowClass: number | null;
  paired: boolean;
  championVersionId: string | null;
  shadowVersionId: string | null;
  tags: string[];
  /** `custom_metadata.edgewatch.sampling.probability` as sent (null: absent). */
  samplingProbability: unknown;
  labels: string[];
}

/** The columns of a `ReviewedPrediction` (same names on SQLite and PostgreSQL, the metadata read apart). */
export const REVIEWED_PREDICTION_COLUMNS = `r.prediction_id AS "predictionId", p.champion_class AS "championClass", p.shadow_class AS "shadowClass", (p.shadow_json IS NOT NULL) AS paired,
  p.champion_version_id AS "championVersionId", p.shadow_version_id AS "shadowVersionId", p.tags_json AS tags, r.labels_json AS labels`;

/** Parses a row of `REVIEWED_PREDICTION_COLUMNS` plus `sampling`. */
export function reviewedPredictionOf(r: Record<string, unknown>): ReviewedPrediction {
  return {
    predictionId: r.predictionId as string,
    championClass: r.championClass as number | null,
    shadowClass: r.shadowClass as number | null,
    paired: r.paired === true || r.paired === 1,
    championVersionId: (r.championVersionId as string | null) ?? null,
    shadowVersionId: (r.shadowVersionId as string | null) ?? null,
    tags: JSON.parse(r.tags as string) as string[],
    samplingProbability: r.sampling ?? null,
    labels: JSON.parse(r.labels as string) as string[],
  };
}

/** A reviewed paired prediction, as the verdict reads it. */
export interface ReviewedPair {
  championClass: number | null;
  shadowClass: number | null;
  labels: string[];
}

/*
 * Fragments over `predictions p` written once for both review stores (PostgreSQL: ../pg/pg-reviews.ts). IS [NOT]
 * DISTINCT FROM is SQLite's IS [NOT] under its standard name (the same operator to SQLite's planner).
 */
/** A paired prediction whose shadow's top-1 differs from the champion's. */
export const DISAGREE = '(p.shadow_json IS NOT NULL AND p.champion_class IS DISTINCT FROM p.shadow_class)';
/** A paired prediction whose shadow's top-1 is the champion's. */
export const AGREE = '(p.shadow_json IS NOT NULL AND p.champion_class IS NOT DISTINCT FROM p.shadow_class)';
export const REVIEWED = 'EXISTS (SELECT 1 FROM prediction_reviews r WHERE r.prediction_id = p.id)';
export const UNREVIEWED = `NOT ${REVIEWED}`;
/** `ORDER BY` of a predicted-asset listing. */
export const ASSET_ORDER: Record<AssetQuery['order'], string> = {
  created_at: 'p.received_s ASC, p.id',
  '-created_at': 'p.received_s DESC, p.id',
  disagreements_first: `${DISAGREE} DESC, p.received_s DESC, p.id`,
};

/** A row of `prediction_reviews` (the same columns on SQLite and PostgreSQL). */
export interface ReviewDbRow {
  id: string;
  prediction_id: string;
  deployment_id: string;
  body_json: string;
  labels_json: string;
  created_s: number;
}

/** A `prediction_reviews` row decoded (both stores). */
export function reviewOf(r: ReviewDbRow): ReviewRow {
  return { id: r.id, predictionId: r.prediction_id, deploymentId: r.deployment_id, body: JSON.parse(r.body_json) as ReviewRow['body'], labels: JSON.parse(r.labels_json) as string[], createdS: r.created_s };
}

function whereOf(q: Omit<AssetQuery, 'order' | 'limit' | 'offset'>): { sql: string; params: unknown[] } {
  const parts = ['p.deployment_id = ?'];
  const params: unknown[] = [q.deploymentId];
  if (q.sinceS !== undefined) (parts.push('p.received_s >= ?'), params.push(q.sinceS));
  if (q.reviewed !== undefined) parts.push(q.reviewed ? REVIEWED : UNREVIEWED);
  if (q.disagreement !== undefined) parts.push(q.disagreement ? DISAGREE : AGREE);
  if (q.paired !== undefined) parts.push(q.paired ? 'p.shadow_json IS NOT NULL' : 'p.shadow_json IS NULL');
  if (q.filename !== undefined) (parts.push('p.filename = ?'), params.push(q.filename));
  if (q.search !== undefined) (parts.push("instr(lower(p.filename), lower(?)) > 0"), params.push(q.search));
  if (q.ranBy !== undefined) (parts.push(RAN_BY), params.push(...ranByParams(q.ranBy)));
  return { sql: parts.join(' AND '), params };
}

/** Synchronous queries of reviews and predicted assets. */
export class ReviewStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Ids of the predictions matching `q` (one page) and how many match in all. */
  listIds(q: AssetQuery): { ids: string[]; count: number } {
    const w = whereOf(q);
    const ids = (cachedStatement(this.#db, `SELECT p.id FROM predictions p WHERE ${w.sql} ORDER BY ${ASSET_ORDER[q.order]} LIMIT ? OFFSET ?`).all(...w.params, q.limit, q.offset) as { id: string }[]).map((r) => r.id);
    const count = (cachedStatement(this.#db, `SELECT COUNT(*) AS n FROM predictions p WHERE ${w.sql}`).get(...w.params) as { n: number }).n;
    return { ids, count };
  }

  /** The review of a prediction, if any. */
  get(predictionId: string): ReviewRow | undefined {
    const r = cachedStatement(this.#db, 'SELECT * FROM prediction_reviews WHERE prediction_id = ?').get(predictionId) as ReviewDbRow | undefined;
    return r && reviewOf(r);
  }

  /** The reviews of several predictions, by prediction id (those without one are absent). */
  getMany(predictionIds: readonly string[]): Map<string, ReviewRow> {
    const found = new Map<string, ReviewRow>();
    for (const id of predictionIds) {
      const r = this.get(id);
      if (r !== undefined) found.set(id, r);
    }
    return found;
  }

  /** Stores the review of a prediction; undefined when it already has one (a review cannot be changed). */
  add(predictionId: string, deploymentId: string, body: ReviewRow['body'], labels: string[]): ReviewRow | undefined {
    const row: ReviewRow = { id: randomUUID(), predictionId, deploymentId, body, labels, createdS: Date.now() / 1000 };
    // The prediction must still exist when the review lands (retention may have deleted it since it was read).
    const info = cachedStatement(
      this.#db,
      `INSERT INTO prediction_reviews (prediction_id, id, deployment_id, body_json, labels_json, created_s)
       SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM predictions WHERE id = ?) ON CONFLICT DO NOTHING`,
    ).run(predictionId, row.id, deploymentId, JSON.stringify(body), JSON.stringify(labels), row.createdS, predictionId);
    return info.changes === 1 ? row : undefined;
  }

  /** Which of `ids` are reviewed. */
  reviewedAmong(ids: readonly string[]): Set<string> {
    const found = new Set<string>();
    const one = cachedStatement(this.#db, 'SELECT 1 AS x FROM prediction_reviews WHERE prediction_id = ?');
    for (const id of ids) if (one.get(id) !== undefined) found.add(id);
    return found;
  }

  /** Paired predictions of a deployment's period that judge its pair: how many agree and disagree on top-1 (trigger-kept counters). */
  periodTraffic(deploymentId: string, periodSeq: number): { agreements: number; disagreements: number } {
    const r = cachedStatement(this.#db, 'SELECT agreements, disagreements FROM period_traffic WHERE deployment_id = ? AND period_seq = ?').get(deploymentId, periodSeq) as
      | { agreements: number; disagreements: number }
      | undefined;
    return r ?? { agreements: 0, disagreements: 0 };
  }

  /**
   * The review queue of a period without scanning the traffic: unreviewed disagreements newest first (from the
   * trigger-kept list), then unreviewed agreements newest first (by capture time, on the time index), `limit` in all;
   * `count` is what is left to review in the period.
   */
  queuePage(deploymentId: string, period: { seq: number; sinceS: number }, versions: PairVersions, limit: number): { ids: string[]; count: number } {
    const disagreements = (cachedStatement(
      this.#db,
      `SELECT d.prediction_id AS id FROM period_disagreements d
       WHERE d.deployment_id = ? AND d.period_seq = ? AND NOT EXISTS (SELECT 1 FROM prediction_reviews r WHERE r.prediction_id = d.prediction_id)
       ORDER BY d.received_s DESC LIMIT ?`,
    ).all(deploymentId, period.seq, limit) as { id: string }[]).map((r) => r.id);
    const agreements =
      disagreements.length >= limit
        ? []
        : (cachedStatement(
            this.#db,
            `SELECT p.id FROM predictions p
             WHERE p.deployment_id = ? AND ${AGREE} AND p.received_s >= ? AND ${RAN_BY}
               AND ${UNREVIEWED}
             ORDER BY p.timestamp_s DESC LIMIT ?`,
          ).all(deploymentId, period.sinceS, ...ranByParams(versions), limit - disagreements.length) as { id: string }[]).map((r) => r.id);
    const traffic = this.periodTraffic(deploymentId, period.seq);
    const reviewed = this.reviewedPairs(deploymentId, { sinceS: period.sinceS }, versions).length;
    return { ids: [...disagreements, ...agreements], count: Math.max(0, traffic.agreements + traffic.disagreements - reviewed) };
  }

  /** Reviewed paired predictions of a deployment received in [sinceS, untilS) and run by `versions`. */
  reviewedPairs(deploymentId: string, range: { sinceS: number; untilS?: number | undefined }, versions: PairVersions): ReviewedPair[] {
    return (cachedStatement(
      this.#db,
      `SELECT p.champion_class AS championClass, p.shadow_class AS shadowClass, r.labels_json AS labels
       FROM prediction_reviews r JOIN predictions p ON p.id = r.prediction_id
       WHERE r.deployment_id = ? AND p.received_s >= ? AND p.received_s < ? AND p.shadow_json IS NOT NULL AND ${RAN_BY}`,
    ).all(deploymentId, range.sinceS, range.untilS ?? Number.MAX_VALUE, ...ranByParams(versions)) as { championClass: number | null; shadowClass: number | null; labels: string }[]).map((r) => ({ ...r, labels: JSON.parse(r.labels) as string[] }));
  }

  /**
   * One page of the reviewed predictions of a deployment captured in [fromS, toS): the `limit` next after prediction id
   * `afterId` (''), in prediction id order (the SDK's stats read them page by page, yielding between pages). Keyset on
   * the reviews' primary key: `+` keeps SQLite off the deployment index and CROSS JOIN keeps the reviews outer (either
   * plan sorts every review, or every prediction of the window, for each page: 60-360 ms a page at 20,000 reviews);
   * this way each page costs its own rows.
   */
  reviewedPage(deploymentId: string, range: { fromS: number; toS: number }, afterId: string, limit: number): ReviewedPrediction[] {
    return (cachedStatement(
      this.#db,
      `SELECT ${REVIEWED_PREDICTION_COLUMNS}, json_extract(p.custom_metadata_json, '$.edgewatch.sampling.probability') AS sampling
       FROM prediction_reviews r CROSS JOIN predictions p ON p.id = r.prediction_id
       WHERE r.prediction_id > ? AND +r.deployment_id = ? AND p.timestamp_s >= ? AND p.timestamp_s < ? ORDER BY r.prediction_id LIMIT ?`,
    ).all(afterId, deploymentId, range.fromS, range.toS, limit) as Record<string, unknown>[]).map(reviewedPredictionOf);
  }

  /**
   * Retention candidates that are not reviewed: the `limit` predictions captured first (before `beforeS` when given).
   * Same shape as `PredictionStore.oldest`, so that retention skips reviewed predictions without looping on them.
   */
  oldestUnreviewed(limit: number, beforeS?: number): { id: string; imagePath: string; imageBytes: number; timestampS: number }[] {
    const columns = `SELECT id, image_path AS imagePath, image_bytes AS imageBytes, timestamp_s AS timestampS FROM predictions p
      WHERE ${UNREVIEWED}`;
    return (beforeS === undefined
      ? cachedStatement(this.#db, `${columns} ORDER BY timestamp_s LIMIT ?`).all(limit)
      : cachedStatement(this.#db, `${columns} AND timestamp_s < ? ORDER BY timestamp_s LIMIT ?`).all(beforeS, limit)) as { id: string; imagePath: string; imageBytes: number; timestampS: number }[];
  }
}
