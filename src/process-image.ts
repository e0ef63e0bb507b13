/** One file through the pipeline: ledger → read → champion ‖ shadow → outbox. Never throws for a bad file. */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentConfig } from './config/schema.js';
import { EdgewatchError, isEdgewatchError } from './errors.js';
import type { Ledger } from './ledger/ledger.js';
import { FINAL_STATES } from './ledger/ledger.js';
import type { Logger } from './log.js';
import type { PipelineMetrics } from './metrics.js';
import type { Outbox } from './outbox/outbox.js';
import { readImage, rejectFile, type ImageRead } from './read/index.js';
import { inputSpecKey, type DecodedInput, type InputSpec, type RawPrediction, type TaskType } from './types.js';
import type { WatchedFile } from './watch/index.js';
import { base64Bytes, buildMonitorFields, encodeMonitorBody } from './monitor/index.js';
import { AGENT_VERSION } from './version.js';

/** What the pipeline needs of a model (a `ModelWorker` in production). */
export interface Predictor {
  readonly info: { name: string; hash: string; task: TaskType; input: InputSpec };
  readonly backend: string;
  predict(input: DecodedInput, original: { width: number; height: number }): Promise<{ prediction: RawPrediction; latencySeconds: number }>;
}

export type ProcessOutcome = 'queued' | 'known' | 'duplicate' | 'rejected' | 'vanished' | 'changed' | 'failed';

export interface ProcessContext {
  config: AgentConfig;
  ledger: Ledger;
  outbox: Outbox;
  champion: Predictor;
  shadow: Predictor | undefined;
  logger: Logger;
  metrics: PipelineMetrics;
  /** Identifies the deployment in image ids (host, organization, deployment). */
  deploymentKey: string;
  /** Called after an entry is committed to the outbox, with the models' wall time for this image. */
  onQueued: (queued: { imageId: string; seenAt: number; modelsMs: number }) => void;
  /** Hands an unsettled file back to the watcher to be read again once it stops changing. */
  recheck: (file: WatchedFile) => void;
}

/** Failures that a file still being written also produces: on an eager (unsettled) read they mean "not yet". */
const INCOMPLETE_SIGNS = new Set(['EW_IMAGE_EMPTY', 'EW_IMAGE_TRUNCATED', 'EW_IMAGE_CORRUPT', 'EW_IMAGE_UNSUPPORTED']);

/** Where a bad file from `folder` goes. */
export function rejectedDirFor(config: AgentConfig, folder: string): string {
  return config.rejectedDir ?? join(folder, 'rejected');
}

/** Where a delivered file from `folder` goes with `afterDelivery: move`. */
export function processedDirFor(config: AgentConfig, folder: string): string {
  return config.processedDir ?? join(folder, 'processed');
}

/** The idempotency key of DESIGN.md §4: content hash + deployment (+ path when duplicates are monitored again). */
export function imageIdOf(sha256: string, deploymentKey: string, duplicateKey?: string): string {
  return createHash('sha256')
    .update(`${sha256}\n${deploymentKey}${duplicateKey ? `\n${duplicateKey}` : ''}`)
    .digest('hex');
}

function pickInput(image: ImageRead, spec: InputSpec): DecodedInput {
  const key = inputSpecKey(spec);
  const found = image.inputs.find((i) => inputSpecKey(i.spec) === key);
  if (!found) throw new EdgewatchError('EW_INFER_FAILED', `No decoded input of ${key} for ${image.path}: this is a bug, please report it.`);
  return found;
}

async function reject(ctx: ProcessContext, file: WatchedFile, fileId: number, err: EdgewatchError): Promise<ProcessOutcome> {
  const dir = rejectedDirFor(ctx.config, file.folder.path);
  try {
    const moved = await rejectFile(file.path, dir, err);
    ctx.ledger.mark(fileId, 'rejected', { code: err.code, reason: err.message });
    ctx.logger.warn({ code: err.code, file: file.path, movedTo: moved.movedTo }, `rejected: ${err.message}`);
  } catch (moveErr) {
    if (isEdgewatchError(moveErr, 'EW_WATCH_VANISHED')) {
      ctx.ledger.mark(fileId, 'skipped', { code: moveErr.code, reason: moveErr.message });
      ctx.logger.info({ code: moveErr.code, file: file.path }, 'bad file vanished before it could be moved aside');
      return 'vanished';
    }
    const code = isEdgewatchError(moveErr) ? moveErr.code : 'EW_REJECT_MOVE';
    ctx.ledger.mark(fileId, 'rejected', { code: err.code, reason: `${err.message} (could not move it: ${(moveErr as Error).message})` });
    ctx.logger.error({ code, file: file.path, reason: err.code }, `rejected, but could not move it to ${dir}: ${(moveErr as Error).message}`);
  }
  return 'rejected';
}

/** Processes one stable file. Returns what happened; only store failures (disk full) throw. */
export async function processImage(ctx: ProcessContext, file: WatchedFile): Promise<ProcessOutcome> {
  const { config, ledger, logger, metrics } = ctx;
  const record = ledger.see(file.path, file.sizeBytes, file.mtimeMs, file.folder.path);
  if (FINAL_STATES.has(record.state)) return 'known';
  const specs = [ctx.champion.info.input, ...(ctx.shadow ? [ctx.shadow.info.input] : [])];

  let image: ImageRead;
  try {
    image = await readImage(file.path, specs, { maxPixels: config.maxPixels, maxFileBytes: config.maxFileBytes });
  } catch (err) {
    if (!isEdgewatchError(err)) throw err;
    if (err.code === 'EW_WATCH_VANISHED') {
      ledger.mark(record.id, 'skipped', { code: err.code, reason: err.message });
      logger.info({ code: err.code, file: file.path }, 'file vanished before it could be read; skipped');
      return 'vanished';
    }
    if (!file.settled && INCOMPLETE_SIGNS.has(err.code)) {
      logger.debug({ file: file.path, code: err.code }, 'not a complete image yet; waiting for the file to settle');
      ctx.recheck(file);
      return 'changed';
    }
    if (err.code === 'EW_IMAGE_TRUNCATED' || err.code === 'EW_IMAGE_EMPTY') {
      // A writer that paused longer than stableMs: if the file changed since, the watcher yields it again.
      const now = await stat(file.path).catch(() => undefined);
      if (now && (now.size !== file.sizeBytes || now.mtimeMs !== file.mtimeMs)) {
        logger.debug({ file: file.path }, 'file still being written; waiting for it to settle');
        return 'changed';
      }
    }
    return reject(ctx, file, record.id, err);
  }
  if (!file.settled && (image.sizeBytes !== file.sizeBytes || image.mtimeMs !== file.mtimeMs)) {
    // Decoded, but the file changed since it was first seen: it is still being written.
    ctx.recheck(file);
    return 'changed';
  }
  metrics.readMs.add(image.timings.readMs);
  metrics.decodeMs.add(image.timings.decodeMs + image.timings.resizeMs);

  const imageId = imageIdOf(image.sha256, ctx.deploymentKey, config.duplicates === 'monitor' ? `${file.path}\n${file.mtimeMs}` : undefined);
  if (config.duplicates === 'skip') {
    const twin = ledger.sameBytes(image.sha256, record.id);
    if (twin) {
      ledger.mark(record.id, 'skipped', { code: 'duplicate', reason: `same bytes as ${twin.path}`, sha256: image.sha256, imageId });
      logger.info({ file: file.path, sameAs: twin.path }, 'same image already monitored; skipped (set duplicates: monitor to send it again)');
      return 'duplicate';
    }
  }

  const original = { width: image.width, height: image.height };
  let champion: { prediction: RawPrediction; latencySeconds: number };
  let shadow: { prediction: RawPrediction; latencySeconds: number } | undefined;
  let imageBase64: Buffer;
  try {
    const predictions = Promise.all([
      ctx.champion.predict(pickInput(image, ctx.champion.info.input), original),
      ctx.shadow ? ctx.shadow.predict(pickInput(image, ctx.shadow.info.input), original) : Promise.resolve(undefined),
    ]);
    // The bulk of the request body, encoded while the models run in their workers.
    imageBase64 = base64Bytes(image.bytes);
    [champion, shadow] = await predictions;
  } catch (err) {
    const code = isEdgewatchError(err) ? err.code : 'EW_INFER_FAILED';
    ledger.mark(record.id, 'failed', { code, reason: (err as Error).message, sha256: image.sha256 });
    logger.error({ code, file: file.path }, `inference failed: ${(err as Error).message}`);
    return 'failed';
  }
  metrics.championMs.add(champion.latencySeconds * 1000);
  if (shadow) metrics.shadowMs.add(shadow.latencySeconds * 1000);

  const enqueueStart = performance.now();
  const fields = buildMonitorFields({
    filename: image.uploadFilename,
    contentType: image.contentType,
    width: image.width,
    height: image.height,
    bytes: image.bytes,
    champion,
    shadow,
    source: file.folder.source,
    tags: file.folder.tags,
    timestamp: Date.now() / 1000,
    edgewatch: {
      imageId,
      champion: { name: ctx.champion.info.name, hash: ctx.champion.info.hash },
      shadow: ctx.shadow ? { name: ctx.shadow.info.name, hash: ctx.shadow.info.hash } : undefined,
      backend: ctx.champion.backend,
      agentVersion: AGENT_VERSION,
      capturedAt: file.mtimeMs / 1000,
    },
  });
  const bytes = encodeMonitorBody(fields, imageBase64);
  ctx.outbox.enqueue({ imageId, fileId: record.id, body: bytes, capturedAt: file.mtimeMs / 1000 }, () =>
    ledger.mark(record.id, 'queued', { sha256: image.sha256, imageId }),
  );
  metrics.enqueueMs.add(performance.now() - enqueueStart);
  ctx.onQueued({ imageId, seenAt: file.seenAt, modelsMs: Math.max(champion.latencySeconds, shadow?.latencySeconds ?? 0) * 1000 });
  logger.debug(
    { file: file.path, championMs: +(champion.latencySeconds * 1000).toFixed(2), shadowMs: shadow ? +(shadow.latencySeconds * 1000).toFixed(2) : undefined },
    'predicted and queued',
  );
  return 'queued';
}
