/** `PredictedAsset` JSON as the SDK reads it (`PredictedAssetSchema`, `sync()`): one stored prediction, its image, both predictions and its review. */
import type { DeploymentInfo } from '../config.js';
import type { StoredPrediction } from '../store.js';
import type { ModelPeriod } from '../registry/registry-store.js';
import { labelName } from '../verdict/verdict-counts.js';
import type { ReviewRow } from './review-store.js';

/** The champion/shadow period in force when a prediction was received (the versions it is credited to). */
export function periodAt(periods: readonly ModelPeriod[], receivedS: number): ModelPeriod | undefined {
  let found: ModelPeriod | undefined;
  for (const p of periods) if (p.sinceS <= receivedS) found = p;
  return found;
}

/** What the asset JSON needs besides the prediction. */
export interface AssetContext {
  deployment: DeploymentInfo;
  periods: readonly ModelPeriod[];
  review: ReviewRow | undefined;
  /** Presigned GET of the image (no API token needed). */
  presignedUrl: string;
  labelsOf: (versionId: string | null | undefined) => Record<string, string> | null;
}

function predictionJson(p: StoredPrediction, which: 'champion' | 'shadow', versionId: string | null, ctx: AssetContext) {
  const raw = which === 'champion' ? p.champion : p.shadow;
  const classId = which === 'champion' ? p.championClass : p.shadowClass;
  const score = which === 'champion' ? p.championScore : p.shadowScore;
  return {
    id: `${p.id}:${which}`,
    is_shadow: which === 'shadow',
    model_version_id: versionId,
    raw_predictions: raw,
    latency: which === 'champion' ? p.latencyS : p.shadowLatencyS,
    class_id: classId,
    label: labelName(classId, ctx.deployment.labels, [ctx.labelsOf(versionId)]),
    score,
  };
}

/** The JSON of a predicted asset. Its id, its data's id and `oracle_prediction_id` are the stored prediction's id. */
export function assetJson(p: StoredPrediction, ctx: AssetContext) {
  // The versions stamped on the row when it (a late shadow: its shadow) arrived; rows stored before stamping: the period's.
  const period = periodAt(ctx.periods, p.receivedS);
  const champion = p.championVersionId !== undefined && p.championVersionId !== null ? p.championVersionId : (period?.championVersionId ?? null);
  const shadow = p.shadowVersionId !== undefined && p.shadowVersionId !== null ? p.shadowVersionId : (period?.shadowVersionId ?? null);
  const predictions = [predictionJson(p, 'champion', champion, ctx)];
  if (p.shadow !== null) predictions.push(predictionJson(p, 'shadow', shadow, ctx));
  const r = ctx.review;
  return {
    id: p.id,
    oracle_prediction_id: p.id,
    deployment_id: p.deploymentId,
    created_at: new Date(p.receivedS * 1000).toISOString(),
    timestamp: p.timestampS,
    data: {
      id: p.id,
      object_name: p.imagePath,
      filename: p.filename,
      type: 'IMAGE',
      content_type: p.contentType.toLowerCase(),
      upload_status: 'DONE',
      presigned_url: ctx.presignedUrl,
      meta: { width: p.width, height: p.height },
      metadata: p.metadata,
      custom_metadata: p.customMetadata,
      tags: p.tags,
      source: p.source,
    },
    predictions,
    reviews: r === undefined ? [] : [{ id: r.id, created_at: new Date(r.createdS * 1000).toISOString(), ...r.body }],
    review_status: r === undefined ? 'TO_REVIEW' : 'REVIEWED',
    agreement: p.shadow === null ? null : p.championClass === p.shadowClass,
  };
}
