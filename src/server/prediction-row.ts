/**
 * A stored prediction to and from a row of the `predictions` table, the same on SQLite and PostgreSQL (JSON columns as
 * text): its columns in insert order, the insert's parameters and the row's decoding.
 */
import type { StoredPrediction } from './store.js';

/** Columns of an insert, in parameter order. */
export const PREDICTION_COLUMNS = [
  'id', 'deployment_id', 'image_key', 'filename', 'content_type', 'width', 'height', 'image_path', 'image_bytes',
  'champion_json', 'champion_class', 'champion_score', 'latency_s', 'shadow_json', 'shadow_class', 'shadow_score', 'shadow_latency_s',
  'source', 'tags_json', 'metadata_json', 'custom_metadata_json', 'timestamp_s', 'received_s', 'champion_version_id', 'shadow_version_id',
] as const;

/** A `predictions` row as both drivers return it (on PostgreSQL int8 is parsed as a number by the store's pool). */
export interface PredictionRow {
  id: string;
  deployment_id: string;
  image_key: string;
  filename: string;
  content_type: string;
  width: number;
  height: number;
  image_path: string;
  image_bytes: number;
  champion_json: string;
  champion_class: number | null;
  champion_score: number | null;
  latency_s: number;
  shadow_json: string | null;
  shadow_class: number | null;
  shadow_score: number | null;
  shadow_latency_s: number | null;
  source: string;
  tags_json: string;
  metadata_json: string | null;
  custom_metadata_json: string | null;
  timestamp_s: number;
  received_s: number;
  champion_version_id: string | null;
  shadow_version_id: string | null;
}

/** Parameters of one prediction, in `PREDICTION_COLUMNS` order. */
export function predictionParams(p: StoredPrediction): unknown[] {
  return [
    p.id, p.deploymentId, p.imageKey, p.filename, p.contentType, p.width, p.height, p.imagePath, p.imageBytes,
    JSON.stringify(p.champion), p.championClass, p.championScore, p.latencyS,
    p.shadow === null ? null : JSON.stringify(p.shadow), p.shadowClass, p.shadowScore, p.shadowLatencyS,
    p.source, JSON.stringify(p.tags), p.metadata === null ? null : JSON.stringify(p.metadata),
    p.customMetadata === null ? null : JSON.stringify(p.customMetadata), p.timestampS, p.receivedS,
    p.championVersionId ?? null, p.shadow === null ? null : (p.shadowVersionId ?? null),
  ];
}

/** A row decoded (JSON columns parsed). */
export function predictionOfRow(r: PredictionRow): StoredPrediction {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    imageKey: r.image_key,
    filename: r.filename,
    contentType: r.content_type,
    width: r.width,
    height: r.height,
    imagePath: r.image_path,
    imageBytes: r.image_bytes,
    champion: JSON.parse(r.champion_json),
    championClass: r.champion_class,
    championScore: r.champion_score,
    latencyS: r.latency_s,
    shadow: r.shadow_json === null ? null : JSON.parse(r.shadow_json),
    shadowClass: r.shadow_class,
    shadowScore: r.shadow_score,
    shadowLatencyS: r.shadow_latency_s,
    source: r.source,
    tags: JSON.parse(r.tags_json) as string[],
    metadata: r.metadata_json === null ? null : (JSON.parse(r.metadata_json) as Record<string, unknown>),
    customMetadata: r.custom_metadata_json === null ? null : (JSON.parse(r.custom_metadata_json) as Record<string, unknown>),
    timestampS: r.timestamp_s,
    receivedS: r.received_s,
    championVersionId: r.champion_version_id,
    shadowVersionId: r.shadow_version_id,
  };
}
