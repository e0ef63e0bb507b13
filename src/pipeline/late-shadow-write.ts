/**
 * What a finished deferred shadow writes: its late-shadow outbox entry (`POST /api/prediction/{id}/shadow`), the end of
 * its pending work and its result sinks' follow-up record, in one state-database transaction.
 */
import type { PooledModel, TimedPrediction } from '../infer/index.js';
import { encodeLateShadowRecord, lateShadowSinkKey, sinkOutput } from '../sinks/record.js';
import type { Outbox } from '../state/outbox.js';
import type { PendingShadow, ShadowPendingStore } from '../state/shadow-pending.js';
import type { ResultSinks } from './sampling.js';

/** Where a late shadow goes. */
export interface LateShadowTarget {
  store: ShadowPendingStore;
  outbox: Outbox;
  /** The result sinks, when configured: the late shadow is queued for them as a follow-up record. */
  sinks?: { queue: ResultSinks; deployment: string } | undefined;
}

/** The late-shadow outbox entry of an image (its own id: the champion's entry keeps the image id). */
function lateShadowId(imageId: string): string {
  return `${imageId}:shadow`;
}

/** Why a late shadow has nothing to attach to (its champion's prediction left the outbox without an id), or undefined when it can be sent. */
export function unattachableReason(outbox: Outbox, imageId: string): string | undefined {
  // Dead-lettered while its shadow ran.
  if (outbox.isDead(imageId)) return 'champion prediction dead-lettered';
  // Answered 409 (sent again after a lost answer): the service did not say the prediction's id.
  if (outbox.delivery(imageId)?.predictionId === null) return 'no prediction id (409)';
  return undefined;
}

/**
 * Queues the late shadow of `p` (and its sinks' record when there are sinks and the model is known) and forgets the
 * work, in one transaction. Returns whether a sinks record was queued (wake the sink loops after). Throws what the
 * state database throws (e.g. a full disk): the work then stays recorded and is done again at the next start.
 */
export function writeLateShadow(target: LateShadowTarget, p: PendingShadow, result: TimedPrediction, model: Pick<PooledModel, 'info'> | undefined): { sinkRecord: boolean } {
  const body = Buffer.from(JSON.stringify({ shadow_raw_predictions: result.prediction, shadow_latency: result.latencySeconds }), 'utf8');
  const sinks = target.sinks;
  const shadow = sinks && model ? sinkOutput(model.info, result.prediction, result.latencySeconds) : undefined;
  const record = sinks && shadow ? encodeLateShadowRecord({ imageId: p.imageId, path: p.path, capturedAt: p.capturedAt, predictedAt: Date.now() / 1000, deployment: sinks.deployment, shadow }) : undefined;
  target.store.transaction(() => {
    target.outbox.enqueue({ imageId: lateShadowId(p.imageId), fileId: p.fileId, parentId: p.imageId, body, capturedAt: p.capturedAt });
    target.store.remove(p.imageId);
    if (record !== undefined) sinks?.queue.add(lateShadowSinkKey(p.imageId), record);
  });
  return { sinkRecord: record !== undefined };
}
