/**
 * Shadow work that fell behind the champion: finished in the background, oldest capture first, and
 * queued as late shadow predictions (`POST /api/prediction/{id}/shadow`) once done; bounded by the
 * lag limit, beyond which shadow work is shed (never the champion's). Survives restarts.
 */
import { isEdgewatchError } from '../errors.js';
import type { Logger } from '../log.js';
import { StateWaiters } from '../loop-signals.js';
import { readImage, type ReadLimits } from '../read/index.js';
import type { PendingShadow } from '../state/shadow-pending.js';
import type { ModelJob, PooledModel, TimedPrediction } from '../infer/index.js';
import type { DecodedInput } from '../types.js';
import { unattachableReason, writeLateShadow, type LateShadowTarget } from './late-shadow-write.js';
import { LagShedEpisode, type ShadowLag } from './shadow-lag.js';

/** What the backlog needs of the shadow model. */
export type ShadowModel = Pick<PooledModel, 'info' | 'submit' | 'queued'>;

export interface ShadowBacklogOptions extends LateShadowTarget {
  /** The shadow in use; undefined while there is none (a deployment without a shadow). See `setShadow`. */
  shadow: ShadowModel | undefined;
  readLimits: ReadLimits;
  maxLag: ShadowLag;
  logger: Logger;
  /** A late shadow entered the outbox (wake the sender), with the shadow's latency. */
  onQueued: (latencySeconds: number) => void;
  /** Shadow work given up, with why (an error code, or a few words). */
  onShed: (imageId: string, reason: string) => void;
  /** The image's file is no longer needed by the shadow (e.g. `afterDelivery` may move it now). */
  onReleased: (imageId: string, fileId: number) => void;
}

/** Decoded inputs of deferred work kept in memory at most; beyond, the file is read again when its turn comes. */
const MAX_IN_MEMORY = 16;
/** Deferred images read again and predicted at once (after a restart, or evicted from memory). */
const MAX_RECOMPUTING = 2;
/** How soon a backlog waiting for the shadow's queue to empty looks again. */
const RECHECK_MS = 100;

/** Deferred shadow work. `start()` takes over what an earlier run left; `close()` leaves what is not done for the next start. */
export class ShadowBacklog {
  readonly #o: ShadowBacklogOptions;
  /** Everything not done yet, by image id (mirrors the table). */
  readonly #pending = new Map<string, PendingShadow>();
  /** Jobs whose decoded input is still in memory (or that are running). */
  readonly #jobs = new Map<string, ModelJob>();
  readonly #recomputing = new Set<string>();
  readonly #idle = new StateWaiters(() => this.#pending.size === 0 || this.#closed);
  #recheck: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #lagSheds: LagShedEpisode;
  #shadow: ShadowModel | undefined;
  /** Work whose job runs on a shadow swapped out since: it may finish there, never be redone on the new one. */
  readonly #onOldShadow = new Set<string>();

  constructor(options: ShadowBacklogOptions) {
    this.#o = options;
    this.#shadow = options.shadow;
    this.#lagSheds = new LagShedEpisode(options.logger, options.maxLag);
  }

  /**
   * A new shadow (or none) is in use. The champion's request of each image waiting here named the
   * shadow it expected; work not already queued on that shadow is shed (reason `shadow model
   * changed`), so that a late shadow is never credited to a model that did not run it.
   */
  setShadow(shadow: ShadowModel | undefined): void {
    if (shadow === this.#shadow) return;
    this.#shadow = shadow;
    for (const p of [...this.#pending.values()]) {
      if (this.#jobs.has(p.imageId)) this.#onOldShadow.add(p.imageId);
      else if (!this.#recomputing.has(p.imageId)) this.#shed(p, 'shadow model changed');
    }
    this.#pump();
  }

  /** True while the shadow still needs this image's file. */
  has(imageId: string): boolean {
    return this.#pending.has(imageId);
  }

  /** Loads the work an earlier run left and starts on it. */
  start(): void {
    for (const p of this.#o.store.all()) this.#pending.set(p.imageId, p);
    if (this.#pending.size > 0 && !this.#shadow) {
      this.#o.logger.info({ images: this.#pending.size }, 'shadow work left by an earlier run, but there is no shadow now: shed');
      for (const p of [...this.#pending.values()]) this.#shed(p, 'no shadow model');
      return;
    }
    if (this.#pending.size > 0) this.#o.logger.info({ images: this.#pending.size }, 'shadow work left by an earlier run: finishing it');
    this.#pump();
  }

  /** True while fewer deferred inputs than the memory bound are held: a new one may be kept rather than read again later. */
  hasMemoryRoom(): boolean {
    return this.#jobs.size < MAX_IN_MEMORY;
  }

  /** True when one more image may wait for its shadow (the lag bound by count); false: shed it instead. */
  hasRoom(): boolean {
    return !this.#closed && this.#shadow !== undefined && (this.#o.maxLag.images === undefined || this.#pending.size < this.#o.maxLag.images);
  }

  /** Shadow work refused because the lag bound by count is reached (the caller sheds it): logged once per episode. */
  refused(): void {
    this.#lagSheds.shed(this.#pending.size);
  }

  /** Records the work; call it inside the transaction that queues the champion's prediction, then `adopt` after the commit. */
  record(p: PendingShadow): void {
    this.#o.store.add(p);
  }

  /**
   * Takes recorded work and finishes it in the background: with its job when its input is still in
   * memory, else (no job, or too many in memory) by reading the file again when the shadow is free.
   * `expected`: the shadow the champion's request named (work without a job is shed if it is no longer in use).
   */
  adopt(p: PendingShadow, job: ModelJob | undefined, expected?: ShadowModel): void {
    this.#pending.set(p.imageId, p);
    if (!job && expected !== undefined && expected !== this.#shadow) {
      // The champion's request named a shadow that was swapped out before this work started.
      this.#shed(p, 'shadow model changed');
      return;
    }
    if (job && (this.#jobs.size < MAX_IN_MEMORY || !job.cancel())) this.#follow(p, job, expected ?? this.#shadow);
    this.#pump();
  }

  /** Resolves once nothing waits for its shadow (with `--once`, before waiting for the outbox to drain). */
  idle(): Promise<void> {
    return this.#idle.wait();
  }

  /** Stops: queued jobs are cancelled and stay recorded for the next start. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#recheck);
    for (const job of this.#jobs.values()) job.cancel();
    this.#idle.releaseAll();
  }

  /** Waits for `job`, run by `model` (whose name and version the sinks' record names). */
  #follow(p: PendingShadow, job: ModelJob, model: ShadowModel | undefined): void {
    this.#jobs.set(p.imageId, job);
    job.result.then(
      (result) => {
        this.#jobs.delete(p.imageId);
        this.#complete(p, result, model);
      },
      (err: unknown) => {
        this.#jobs.delete(p.imageId);
        if (this.#closed) return;
        if (isEdgewatchError(err, 'EW_INFER_CANCELLED')) {
          if (this.#onOldShadow.has(p.imageId)) this.#shed(p, 'shadow model changed');
          else if (this.#pending.has(p.imageId)) this.#pump(); // cancelled to save memory: read again later
          return;
        }
        this.#o.logger.error({ code: isEdgewatchError(err) ? err.code : undefined, imageId: p.imageId.slice(0, 12) }, `late shadow inference failed: ${(err as Error).message}`);
        this.#shed(p, isEdgewatchError(err) ? err.code : 'EW_INFER_FAILED');
      },
    );
  }

  /** The shadow's prediction is ready: queue it as a late shadow (and its sinks' follow-up record) and forget the work, in one transaction. */
  #complete(p: PendingShadow, result: TimedPrediction, model: ShadowModel | undefined): void {
    if (this.#closed || !this.#pending.has(p.imageId)) return;
    const unattachable = unattachableReason(this.#o.outbox, p.imageId);
    if (unattachable !== undefined) {
      this.#shed(p, unattachable);
      return;
    }
    let written: { sinkRecord: boolean };
    try {
      written = writeLateShadow(this.#o, p, result, model);
    } catch (err) {
      // E.g. a full disk: the work stays recorded and is done again at the next start.
      this.#o.logger.error({ code: isEdgewatchError(err) ? err.code : undefined, imageId: p.imageId.slice(0, 12) }, `could not queue a late shadow: ${(err as Error).message}`);
      return;
    }
    this.#done(p);
    if (written.sinkRecord) this.#o.sinks?.queue.wake();
    this.#o.onQueued(result.latencySeconds);
  }

  #shed(p: PendingShadow, reason: string): void {
    if (!this.#pending.has(p.imageId)) return;
    try {
      this.#o.store.remove(p.imageId);
    } catch (err) {
      this.#o.logger.error({ code: isEdgewatchError(err) ? err.code : undefined }, `could not forget shed shadow work: ${(err as Error).message}`);
      return;
    }
    this.#jobs.get(p.imageId)?.cancel();
    this.#done(p);
    this.#o.onShed(p.imageId, reason);
  }

  #done(p: PendingShadow): void {
    this.#pending.delete(p.imageId);
    this.#onOldShadow.delete(p.imageId);
    this.#o.onReleased(p.imageId, p.fileId);
    if (this.#pending.size === 0) {
      this.#lagSheds.caughtUp();
      this.#idle.notify();
    }
    this.#pump();
  }

  /** The lag bound by time: work deferred longer ago than `maxLag.ms` is shed, oldest first. */
  #shedLagging(): void {
    const maxMs = this.#o.maxLag.ms;
    if (maxMs === undefined) return;
    const oldest = Date.now() / 1000 - maxMs / 1000;
    for (const p of [...this.#pending.values()]) {
      if (p.deferredAt >= oldest) continue;
      const job = this.#jobs.get(p.imageId);
      if (job?.startedAt !== undefined) continue; // running: let it finish
      this.#lagSheds.shed(this.#pending.size);
      this.#shed(p, 'EW_SHADOW_LAG');
    }
  }

  /**
   * Starts reading again the oldest deferred images whose input is not in memory, only while the
   * shadow has nothing queued: the reading and decoding happen when the shadow can use them, not
   * during the champion's rush.
   */
  #pump(): void {
    if (this.#closed) return;
    const shadow = this.#shadow;
    if (!shadow) return;
    this.#shedLagging();
    for (const p of this.#pending.values()) {
      if (this.#recomputing.size >= MAX_RECOMPUTING) return;
      if (shadow.queued > 0) {
        // Shadow jobs of new images run first; look again shortly (they end without telling the backlog).
        this.#recheck ??= setTimeout(() => {
          this.#recheck = undefined;
          this.#pump();
        }, RECHECK_MS);
        return;
      }
      if (this.#jobs.has(p.imageId) || this.#recomputing.has(p.imageId)) continue;
      this.#recomputing.add(p.imageId);
      void this.#recompute(p).finally(() => {
        this.#recomputing.delete(p.imageId);
        this.#pump();
      });
    }
  }

  async #recompute(p: PendingShadow): Promise<void> {
    const shadow = this.#shadow as ShadowModel;
    const spec = shadow.info.input;
    let image;
    try {
      image = await readImage(p.path, [spec], this.#o.readLimits);
    } catch (err) {
      this.#o.logger.info({ code: isEdgewatchError(err) ? err.code : undefined, file: p.path }, 'the image of deferred shadow work cannot be read again: shed');
      this.#shed(p, isEdgewatchError(err) ? err.code : 'EW_IMAGE_UNREADABLE');
      return;
    }
    if (this.#closed || !this.#pending.has(p.imageId)) return;
    if (shadow !== this.#shadow) {
      this.#shed(p, 'shadow model changed');
      return;
    }
    if (image.sha256 !== p.sha256) {
      this.#o.logger.info({ file: p.path }, 'the image of deferred shadow work changed since: shed');
      this.#shed(p, 'EW_WATCH_VANISHED');
      return;
    }
    const input = image.inputs[0] as DecodedInput;
    const job = shadow.submit(input, { width: image.width, height: image.height });
    this.#follow(p, job, shadow);
    await job.result.catch(() => undefined);
  }
}
