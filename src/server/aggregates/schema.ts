/**
 * Tables of the aggregates, in plain SQL that PostgreSQL also accepts (INTEGER/REAL/TEXT columns, composite primary
 * keys, upserts with ON CONFLICT … DO UPDATE; a PostgreSQL store would use BIGINT/DOUBLE PRECISION and an identity
 * column for `agg_dims.id`). Every prediction adds to one row per table and level (and per object class for
 * detection): a window is answered by summing rows, never by reading predictions.
 */

/** Role of a model in a row: the champion or the shadow. */
export const ROLE = { champion: 0, shadow: 1 } as const;
/** `champion_class`/`shadow_class` of an empty prediction (no top-1 class). */
export const NO_CLASS = -1;
/** `shadow_class` of a prediction without a shadow. */
export const NO_SHADOW = -2;
/** Bins of the top-1 score histograms (score ∈ [0, 1] → bin floor(score · 100), 1 → 99). */
export const SCORE_BINS = 100;

/**
 * `agg_dims`: one row per combination a chart or the SDK filters on (deployment, champion and shadow model
 * versions, source, the prediction's whole tag set, the model names the agent reported). Buckets are keyed by it.
 * '' stands for "none" so that the unique key never holds NULL.
 */
export const AGGREGATES_SCHEMA = `
CREATE TABLE IF NOT EXISTS agg_dims (
  id INTEGER PRIMARY KEY,
  deployment_id TEXT NOT NULL,
  champion_version TEXT NOT NULL,
  shadow_version TEXT NOT NULL,
  source TEXT NOT NULL,
  tags_json TEXT NOT NULL,
  names_json TEXT NOT NULL,
  UNIQUE (deployment_id, champion_version, shadow_version, source, tags_json, names_json)
);
CREATE TABLE IF NOT EXISTS agg_counts (
  dim_id INTEGER NOT NULL, level INTEGER NOT NULL, bucket INTEGER NOT NULL,
  n INTEGER NOT NULL, w REAL NOT NULL, shadow_n INTEGER NOT NULL, shadow_w REAL NOT NULL,
  lat_sum_w REAL NOT NULL, shadow_lat_sum_w REAL NOT NULL,
  lat_min REAL, lat_max REAL, shadow_lat_min REAL, shadow_lat_max REAL, t_min REAL, t_max REAL,
  PRIMARY KEY (dim_id, level, bucket)
);
CREATE TABLE IF NOT EXISTS agg_pairs (
  dim_id INTEGER NOT NULL, level INTEGER NOT NULL, bucket INTEGER NOT NULL,
  champion_class INTEGER NOT NULL, shadow_class INTEGER NOT NULL,
  n INTEGER NOT NULL, w REAL NOT NULL, champion_score_w REAL NOT NULL, shadow_score_w REAL NOT NULL,
  PRIMARY KEY (dim_id, level, bucket, champion_class, shadow_class)
);
CREATE TABLE IF NOT EXISTS agg_latency (
  dim_id INTEGER NOT NULL, level INTEGER NOT NULL, bucket INTEGER NOT NULL, role INTEGER NOT NULL, bin INTEGER NOT NULL,
  n INTEGER NOT NULL, w REAL NOT NULL,
  PRIMARY KEY (dim_id, level, bucket, role, bin)
);
CREATE TABLE IF NOT EXISTS agg_scores (
  dim_id INTEGER NOT NULL, level INTEGER NOT NULL, bucket INTEGER NOT NULL, role INTEGER NOT NULL, bin INTEGER NOT NULL,
  n INTEGER NOT NULL, w REAL NOT NULL,
  PRIMARY KEY (dim_id, level, bucket, role, bin)
);
CREATE TABLE IF NOT EXISTS agg_objects (
  dim_id INTEGER NOT NULL, level INTEGER NOT NULL, bucket INTEGER NOT NULL, role INTEGER NOT NULL, class INTEGER NOT NULL,
  n INTEGER NOT NULL, w REAL NOT NULL, score_w REAL NOT NULL,
  PRIMARY KEY (dim_id, level, bucket, role, class)
);
`;

/** The aggregate tables (a migration that changes their layout drops and rebuilds them from the predictions). */
export const AGGREGATE_TABLES = ['agg_dims', 'agg_counts', 'agg_pairs', 'agg_latency', 'agg_scores', 'agg_objects'] as const;

const minOf = (c: string) => `${c} = CASE WHEN excluded.${c} IS NOT NULL AND (t.${c} IS NULL OR excluded.${c} < t.${c}) THEN excluded.${c} ELSE t.${c} END`;
const maxOf = (c: string) => `${c} = CASE WHEN excluded.${c} IS NOT NULL AND (t.${c} IS NULL OR excluded.${c} > t.${c}) THEN excluded.${c} ELSE t.${c} END`;
const sums = (...cs: string[]) => cs.map((c) => `${c} = t.${c} + excluded.${c}`).join(', ');

/** The upserts, one per table: add a delta to a bucket row (min/max columns keep the extreme). */
export const UPSERT = {
  dim: `INSERT INTO agg_dims (deployment_id, champion_version, shadow_version, source, tags_json, names_json) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (deployment_id, champion_version, shadow_version, source, tags_json, names_json) DO NOTHING`,
  dimId: 'SELECT id FROM agg_dims WHERE deployment_id = ? AND champion_version = ? AND shadow_version = ? AND source = ? AND tags_json = ? AND names_json = ?',
  counts: `INSERT INTO agg_counts AS t (dim_id, level, bucket, n, w, shadow_n, shadow_w, lat_sum_w, shadow_lat_sum_w, lat_min, lat_max, shadow_lat_min, shadow_lat_max, t_min, t_max)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (dim_id, level, bucket) DO UPDATE SET ${sums('n', 'w', 'shadow_n', 'shadow_w', 'lat_sum_w', 'shadow_lat_sum_w')},
        ${minOf('lat_min')}, ${maxOf('lat_max')}, ${minOf('shadow_lat_min')}, ${maxOf('shadow_lat_max')}, ${minOf('t_min')}, ${maxOf('t_max')}`,
  pairs: `INSERT INTO agg_pairs AS t (dim_id, level, bucket, champion_class, shadow_class, n, w, champion_score_w, shadow_score_w) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (dim_id, level, bucket, champion_class, shadow_class) DO UPDATE SET ${sums('n', 'w', 'champion_score_w', 'shadow_score_w')}`,
  latency: `INSERT INTO agg_latency AS t (dim_id, level, bucket, role, bin, n, w) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (dim_id, level, bucket, role, bin) DO UPDATE SET ${sums('n', 'w')}`,
  scores: `INSERT INTO agg_scores AS t (dim_id, level, bucket, role, bin, n, w) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (dim_id, level, bucket, role, bin) DO UPDATE SET ${sums('n', 'w')}`,
  objects: `INSERT INTO agg_objects AS t (dim_id, level, bucket, role, class, n, w, score_w) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (dim_id, level, bucket, role, class) DO UPDATE SET ${sums('n', 'w', 'score_w')}`,
} as const;
