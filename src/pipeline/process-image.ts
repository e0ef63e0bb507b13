/** One file through the pipeline: ledger → read → champion ‖ shadow → outbox, with one ledger transition per outcome. Never throws for a bad file. */
import type { AgentConfig } from '../config/schema.js';
import { EdgewatchError, isEdgewatchError, type ErrorCode } from '../errors.js';
import type { ModelJob, PooledModel, TimedPrediction } from '../infer/index.js';
import type { Logger } from '../log.js';
import { base64Bytes, buildMonitorFields, encodeMonitorBody } from '../monitor/index.js';
import { readImage, type ImageRead } from '../read/index.js';
import { stripMetadata } from '../privacy/strip-metadata.js';
import { FINAL_STATES, type Ledger } from '../state/ledger.js';
import type { Outbox } from '../state/outbox.js';
import { inputSpecKey, type DecodedInput, type InputSpec } from '../types.js';
import { AGENT_VERSION } from '../version.js';
import type { WatchedFile } from '../watch/index.js';
import type { Sampler } from '../sample/sampler.js';
import { afterDelivery } from './file-destinations.js';
import { unreadable } from './unreadable-file.js';
import { decideResults, type ResultSinks } from './sampling.js';
import { imageIdOf } from './image-id.js';
import type { PipelineMetrics } from './metrics.js';
import type { PendingShadow } from '../state/shadow-pending.js';
import type { ShadowBacklog } from './shadow-backlog.js';
import { queueTooDeep, shadowInTime, shadowTiming } from './shadow-in-time.js';

/** What the pipeline needs of a model of the pool; `modelVersionId` when it came from the deployment. */
export type Predictor = Pick<PooledModel, 'info' | 'backend' | 'submit' | 'queued'> & { readonly modelVersionId?: string | undefined };

/** One image's champion and shadow, held until its model calls are made (see pipeline/live-models.ts). */
export interface PredictorLease {
  readonly champion: Predictor;
  readonly shadow: Predictor | undefined;
  /** Counts the image as the champion's work until the returned function is called (see ModelPool.championAhead). */
  championAhead?(): () => void;
  release(): void;
}

/**
 * What happened to one file: `queued` (in the outbox), `known` (the ledger had it done already),
 * `duplicate` (same bytes as a monitored file, skipped), `rejected` (bad file, set aside),
 * `vanished` (gone before it could be read or moved), `changed` (still being written: back to
 * the watcher), `failed` (inference failed; the file is tried again at the next start), `sampled`
 * (predicted and written to the sinks, not sent to monitoring by `--sample`).
 */
export type ProcessOutcome = 'queued' | 'known' | 'duplicate' | 'rejected' | 'vanished' | 'changed' | 'failed' | 'sampled';

export interface ProcessContext {
  config: AgentConfig;
  ledger: Ledger;
  outbox: Outbox;
  /** The models in use (they can be swapped while running): each image takes its pair from here. */
  models: { acquire(): PredictorLease };
  logger: Logger;
  metrics: PipelineMetrics;
  /** `deploymentKey(config)`: part of every image id. */
  deploymentKey: string;
  /** Called after an entry is committed to the outbox, with the models' wall time for this image. */
  onQueued: (queued: { imageId: string; seenAt: number; modelsMs: number }) => void;
  /** Hands an unsettled file back to the watcher to be read again once it stops changing. */
  recheck: (file: WatchedFile) => void;
  /** Where the shadow's work goes when it is behind (present when there is a shadow). */
  shadowBacklog: ShadowBacklog | undefined;
  /** `--sample`: which predictions go to monitoring (absent: all of them). */
  sampler?: Sampler | undefined;
  /** The result sinks' queues (absent: no sink configured). */
  sinks?: ResultSinks | undefined;
  /** The champion went out alone: the shadow's prediction follows as a late shadow, or was shed (`shed`). */
  onShadowBehind: (imageId: string, outcome: 'deferred' | 'shed', code?: string) => void;
}

/** What examining a file decided, before anything is committed: each outcome maps to one ledger transition in `commit`. */
type Verdict =
  | { outcome: 'changed' }
  | { outcome: 'vanished' | 'rejected'; code: ErrorCode; reason: string }
  | { outcome: 'failed'; code: ErrorCode; reason: string; sha256: string }
  | { outcome: 'duplicate'; reason: string; sha256: string; imageId: string }
  | { outcome: 'sampled'; sha256: string; imageId: string; record: string | undefined; reason: 'sampled' | 'cap' }
  | {
      outcome: 'queued';
      sha256: string;
      imageId: string;
      body: Buffer;
      capturedAt: number;
      startedAt: number;
      champion: TimedPrediction;
      shadow: TimedPrediction | undefined;
      /** The shadow is behind: its job continues in the background, or is not started yet (a late shadow either way). */
      behind: ModelJob | 'not-started' | undefined;
      /** The sinks' record, committed with the outbox entry. */
      record: string | undefined;
    };


/** Processes one stable file. Returns what happened; only store failures (disk full) throw. */
export async function processImage(shared: ProcessContext, file: WatchedFile): Promise<ProcessOutcome> {
  const record = shared.ledger.see(file.path, file.sizeBytes, file.mtimeMs, file.folder.path);
  if (FINAL_STATES.has(record.state)) return 'known';
  // One pair for the whole image: a swap between two of its model calls never mixes pairs.
  const lease = shared.models.acquire();
  try {
    return await processWith({ ...shared, champion: lease.champion, shadow: lease.shadow, championAhead: lease.championAhead?.bind(lease) }, file, record.id);
  } finally {
    lease.release();
  }
}

/** The context of one image: the shared one and the pair it leased. */
type ImageContext = ProcessContext & { champion: Predictor; shadow: Predictor | undefined; championAhead: (() => () => void) | undefined };

async function processWith(ctx: ImageContext, file: WatchedFile, fileId: number): Promise<ProcessOutcome> {
  // Reading and decoding the image is the champion's work too: the shadow yields to it.
  const ahead = ctx.championAhead?.();
  let verdict: Verdict;
  try {
    verdict = await examine(ctx, file, fileId, ahead);
  } finally {
    ahead?.();
  }
  const deferred = commit(ctx, fileId, file, verdict);
  if (verdict.outcome === 'queued' || verdict.outcome === 'sampled') ctx.sinks?.wake();
  // A sampled-out image is done with: `afterDelivery` applies to it as to a delivered one.
  if (verdict.outcome === 'sampled' && ctx.config.afterDelivery !== 'keep') void afterDelivery(ctx.config, { path: file.path, folder: file.folder.path }, ctx.logger);
  if (verdict.outcome === 'queued' && verdict.behind) {
    const job = verdict.behind === 'not-started' ? undefined : verdict.behind;
    if (deferred) {
      ctx.shadowBacklog?.adopt(deferred, job, ctx.shadow);
      ctx.onShadowBehind(verdict.imageId, 'deferred');
    } else {
      job?.cancel();
      ctx.shadowBacklog?.refused();
      ctx.onShadowBehind(verdict.imageId, 'shed', 'EW_SHADOW_LAG');
    }
  }
  if (verdict.outcome === 'queued') {
    const { champion, shadow } = verdict;
    ctx.metrics.enqueueMs.add(performance.now() - verdict.startedAt);
    ctx.onQueued({ imageId: verdict.imageId, seenAt: file.seenAt, modelsMs: Math.max(champion.latencySeconds, shadow?.latencySeconds ?? 0) * 1000 });
    ctx.logger.debug(
      { file: file.path, championMs: +(champion.latencySeconds * 1000).toFixed(2), shadowMs: shadow ? +(shadow.latencySeconds * 1000).toFixed(2) : undefined },
      'predicted and queued',
    );
  }
  return verdict.outcome;
}

/**
 * The file's one ledger transition (or none, for a file still being written). A champion queued
 * alone records its shadow's deferred work in the same transaction (returned), unless the lag
 * bound is reached (undefined: the shadow's work is shed).
 */
function commit(ctx: ImageContext, fileId: number, file: WatchedFile, v: Verdict): PendingShadow | undefined {
  const { ledger } = ctx;
  switch (v.outcome) {
    case 'changed':
      return;
    case 'queued': {
      const backlog = ctx.shadowBacklog;
      const deferred: PendingShadow | undefined =
        v.behind && backlog?.hasRoom()
          ? { imageId: v.imageId, fileId, path: file.path, sizeBytes: file.sizeBytes, mtimeMs: file.mtimeMs, sha256: v.sha256, capturedAt: v.capturedAt, deferredAt: Date.now() / 1000 }
          : undefined;
      ctx.outbox.enqueue({ imageId: v.imageId, fileId, body: v.body, capturedAt: v.capturedAt }, () => {
        ledger.mark(fileId, 'queued', { sha256: v.sha256, imageId: v.imageId });
        if (deferred) backlog?.record(deferred);
        if (v.record !== undefined) ctx.sinks?.add(v.imageId, v.record);
      });
      return deferred;
    }
    case 'sampled':
      ledger.transaction(() => {
        ledger.mark(fileId, 'sampled', { code: v.reason, sha256: v.sha256, imageId: v.imageId });
        if (v.record !== undefined) ctx.sinks?.add(v.imageId, v.record);
      });
      return;
    case 'duplicate':
      ledger.mark(fileId, 'skipped', { code: 'duplicate', reason: v.reason, sha256: v.sha256, imageId: v.imageId });
      return;
    case 'vanished':
      ledger.mark(fileId, 'skipped', { code: v.code, reason: v.reason });
      return;
    case 'rejected':
      ledger.mark(fileId, 'rejected', { code: v.code, reason: v.reason });
      return;
    case 'failed':
      ledger.mark(fileId, 'failed', { code: v.code, reason: v.reason, sha256: v.sha256 });
      return;
    default:
      v satisfies never;
  }
}

/** Reads, checks and predicts: everything but the commit. */
async function examine(ctx: ImageContext, file: WatchedFile, fileId: number, championSubmitted?: () => void): Promise<Verdict> {
  const { config, logger, metrics } = ctx;
  // A shadow whose queued work already exceeds what a request may wait for is behind: its input is
  // made later, from the file, when the shadow is free (no resize for it, nor memory held, during
  // the champion's rush).
  const timing = shadowTiming(metrics);
  const shadowBehind = ctx.shadow !== undefined && queueTooDeep(ctx.shadow.queued, timing) && ctx.shadowBacklog?.hasMemoryRoom() === false;
  const specs = [ctx.champion.info.input, ...(ctx.shadow && !shadowBehind ? [ctx.shadow.info.input] : [])];
  let image: ImageRead;
  try {
    image = await readImage(file.path, specs, { maxPixels: config.maxPixels, maxFileBytes: config.maxFileBytes, followSymlinks: file.folder.followSymlinks === true });
  } catch (err) {
    if (!isEdgewatchError(err)) throw err;
    return unreadable(ctx, file, err);
  }
  if (!file.settled && (image.sizeBytes !== file.sizeBytes || image.mtimeMs !== file.mtimeMs)) {
    // Decoded, but the file changed since it was first seen: it is still being written.
    ctx.recheck(file);
    return { outcome: 'changed' };
  }
  metrics.readMs.add(image.timings.readMs);
  metrics.decodeMs.add(image.timings.decodeMs + image.timings.resizeMs);

  const imageId = imageIdOf(image.sha256, ctx.deploymentKey, config.duplicates === 'monitor' ? `${file.path}\n${file.mtimeMs}` : undefined);
  if (config.duplicates === 'skip') {
    const twin = ctx.ledger.sameBytes(image.sha256, fileId);
    if (twin) {
      logger.info({ file: file.path, sameAs: twin.path }, 'same image already monitored; skipped (set duplicates: monitor to send it again)');
      return { outcome: 'duplicate', reason: `same bytes as ${twin.path}`, sha256: image.sha256, imageId };
    }
  }

  const original = { width: image.width, height: image.height };
  const championJob = ctx.champion.submit(pickInput(image, ctx.champion.info.input), original);
  const shadowJob = ctx.shadow && !shadowBehind ? ctx.shadow.submit(pickInput(image, ctx.shadow.info.input), original) : undefined;
  championSubmitted?.();
  // Whoever ends up owning the shadow's job (this request, the backlog, or nobody once shed) reads its outcome.
  shadowJob?.result.catch(() => undefined);
  // The bulk of the request body, encoded while the models run in their workers; the bytes uploaded
  // are the file's with the metadata `stripMetadata` removes (lossless: the pixels are copied as they are).
  const uploadBytes = stripMetadata(image.bytes, image.contentType, config.stripMetadata);
  const imageBase64 = base64Bytes(uploadBytes);
  let champion: TimedPrediction;
  try {
    champion = await championJob.result;
  } catch (err) {
    shadowJob?.cancel();
    const code = isEdgewatchError(err) ? err.code : 'EW_INFER_FAILED';
    logger.error({ code, file: file.path }, `inference failed: ${(err as Error).message}`);
    return { outcome: 'failed', code, reason: (err as Error).message, sha256: image.sha256 };
  }
  metrics.championMs.add(champion.latencySeconds * 1000);
  let shadow: TimedPrediction | undefined;
  let behind: ModelJob | 'not-started' | undefined = shadowBehind ? 'not-started' : undefined;
  if (shadowJob) {
    const waited = await shadowInTime(shadowJob, timing.waitMs);
    if (waited.kind === 'done') {
      shadow = waited.result;
      metrics.shadowMs.add(shadow.latencySeconds * 1000);
    } else if (waited.kind === 'behind') {
      behind = shadowJob;
    } else {
      const code = isEdgewatchError(waited.error) ? waited.error.code : 'EW_INFER_FAILED';
      logger.error({ code, file: file.path }, `shadow inference failed (the champion's prediction is sent alone): ${(waited.error as Error).message}`);
      ctx.onShadowBehind(imageId, 'shed', code);
    }
  }

  const startedAt = performance.now();
  const results = decideResults(ctx.sampler, ctx.sinks, {
    imageId,
    path: file.path,
    capturedAt: file.mtimeMs / 1000,
    width: image.width,
    height: image.height,
    deployment: config.deployment,
    champion: { model: ctx.champion, result: champion },
    shadow: shadow && ctx.shadow ? { model: ctx.shadow, result: shadow } : undefined,
  });
  if (!results.decision.send) {
    // Not monitored: a shadow still running for it has no one to report to.
    if (behind !== undefined && behind !== 'not-started') behind.cancel();
    return { outcome: 'sampled', sha256: image.sha256, imageId, record: results.record, reason: results.decision.reason };
  }
  const fields = buildMonitorFields({
    filename: image.uploadFilename,
    contentType: image.contentType,
    width: image.width,
    height: image.height,
    bytes: uploadBytes,
    champion,
    shadow,
    source: file.folder.source,
    tags: file.folder.tags,
    timestamp: Date.now() / 1000,
    edgewatch: {
      imageId,
      champion: identity(ctx.champion),
      shadow: ctx.shadow ? identity(ctx.shadow) : undefined,
      backend: ctx.champion.backend,
      agentVersion: AGENT_VERSION,
      capturedAt: file.mtimeMs / 1000,
      ...(ctx.sampler?.sendsAll === false ? { sampling: { probability: results.decision.probability, policy: results.decision.policy } } : {}),
    },
  });
  const body = encodeMonitorBody(fields, imageBase64);
  return { outcome: 'queued', sha256: image.sha256, imageId, body, capturedAt: file.mtimeMs / 1000, startedAt, champion, shadow, behind, record: results.record };
}

/** How a model is named in `custom_metadata.edgewatch`: name, hash and, from the deployment, its model version id. */
function identity(model: Predictor): { name: string; hash: string; modelVersionId?: string } {
  return { name: model.info.name, hash: model.info.hash, ...(model.modelVersionId === undefined ? {} : { modelVersionId: model.modelVersionId }) };
}

function pickInput(image: ImageRead, spec: InputSpec): DecodedInput {
  const key = inputSpecKey(spec);
  const found = image.inputs.find((i) => inputSpecKey(i.spec) === key);
  if (!found) throw new EdgewatchError('EW_INFER_FAILED', `No decoded input of ${key} for ${image.path}: this is a bug, please report it.`);
  return found;
}
