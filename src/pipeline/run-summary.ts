/** What one agent run did: counts of file outcomes and of predictions acknowledged, and the latency edgewatch added to the models'. */
import type { Samples } from './metrics.js';
import type { ProcessOutcome } from './process-image.js';

/** Counts of one agent run. */
export interface RunSummary {
  /** Predictions the service stored (201). */
  monitored: number;
  /** Predictions the service already had (409: a re-send after a lost answer, or another run sent them). */
  alreadyMonitored: number;
  /** Bad files set aside. */
  rejected: number;
  /** Files whose inference failed, and predictions dead-lettered. */
  failed: number;
  /** Files not sent: same bytes as a monitored one (`duplicates: skip`), or gone before they could be read. */
  skipped: number;
  /** Files predicted (and written to the sinks) but not sent to monitoring by `--sample`. */
  sampledOut: number;
  /** Predictions still in the outbox. */
  pending: number;
  /** Dead letters in the state database (this run and earlier ones). */
  dead: number;
  /** Shadow: champion predictions sent alone because the shadow was behind (its prediction follows as a late shadow). */
  shadowDeferred: number;
  /** Shadow: late shadow predictions acknowledged (201 or 409). */
  shadowLate: number;
  /** Shadow: shadow predictions given up (lag bound, shadow inference failed, file gone, champion refused). */
  shadowShed: number;
}

/** Who hears of predictions leaving the outbox (the agent's options). */
export interface TallyListeners {
  onSent?: ((imageId: string, result: 'delivered' | 'duplicate' | 'dead') => void) | undefined;
  onShadowSettled?: ((imageId: string, result: 'late' | 'shed') => void) | undefined;
}

/** Images whose added latency is tracked at most at once (beyond, e.g. during an outage, new ones are not measured). */
const MAX_TRACKED = 10_000;

/**
 * The tally of a run. Added latency: from a file complete (first seen with its final size) to its
 * prediction acknowledged, minus the models' wall time, added to `addedMs` at each acknowledgement.
 */
export class RunTally {
  monitored = 0;
  alreadyMonitored = 0;
  rejected = 0;
  failed = 0;
  skipped = 0;
  sampledOut = 0;
  shadowDeferred = 0;
  shadowLate = 0;
  shadowShed = 0;
  /** Files taken, whatever their outcome. */
  taken = 0;
  readonly #addedMs: Samples;
  readonly #inPipeline = new Map<string, { seenAt: number; modelsMs: number }>();

  readonly #listeners: TallyListeners;

  constructor(addedMs: Samples, listeners: TallyListeners = {}) {
    this.#addedMs = addedMs;
    this.#listeners = listeners;
  }

  /** A file's outcome. */
  outcome(outcome: ProcessOutcome): void {
    this.taken += 1;
    if (outcome === 'rejected') this.rejected += 1;
    else if (outcome === 'failed') this.failed += 1;
    else if (outcome === 'duplicate' || outcome === 'vanished') this.skipped += 1;
    else if (outcome === 'sampled') this.sampledOut += 1;
  }

  /** An image is in the outbox; `seenAt` is performance.now() when its file was complete (0: unknown). */
  queued(imageId: string, seenAt: number, modelsMs: number): void {
    if (this.#inPipeline.size < MAX_TRACKED) this.#inPipeline.set(imageId, { seenAt, modelsMs });
  }

  /** The service acknowledged an outbox entry: a champion's prediction (stored now or already), or a late shadow. */
  acknowledged(entry: { imageId: string; parentId: string | null }, kind: 'delivered' | 'duplicate'): void {
    if (entry.parentId !== null) {
      this.shadowLate += 1;
      this.#listeners.onShadowSettled?.(entry.parentId, 'late');
      return;
    }
    const { imageId } = entry;
    this.#listeners.onSent?.(imageId, kind);
    if (kind === 'delivered') this.monitored += 1;
    else this.alreadyMonitored += 1;
    const timing = this.#inPipeline.get(imageId);
    if (!timing) return;
    this.#inPipeline.delete(imageId);
    if (timing.seenAt > 0) this.#addedMs.add(performance.now() - timing.seenAt - timing.modelsMs);
  }

  /** The service refused an entry for good (a dead letter): a failed image, or a late shadow shed (the champion's prediction stands). */
  dead(entry: { imageId: string; parentId: string | null }): void {
    if (entry.parentId !== null) {
      this.shed(entry.parentId);
      return;
    }
    this.failed += 1;
    this.#inPipeline.delete(entry.imageId);
    this.#listeners.onSent?.(entry.imageId, 'dead');
  }

  /** A shadow prediction given up (lag bound, failure, file gone, its champion refused or answered 409). */
  shed(imageId: string): void {
    this.shadowShed += 1;
    this.#listeners.onShadowSettled?.(imageId, 'shed');
  }

  /** The shadow was behind: its prediction follows late (`deferred`), or was shed at once. */
  shadowBehind(imageId: string, outcome: 'deferred' | 'shed'): void {
    if (outcome === 'deferred') this.shadowDeferred += 1;
    else this.shed(imageId);
  }

  /** The summary, with the outbox's counts. */
  summary(outbox: { queued: number; dead: number }): RunSummary {
    const { monitored, alreadyMonitored, rejected, failed, skipped, sampledOut, shadowDeferred, shadowLate, shadowShed } = this;
    return { monitored, alreadyMonitored, rejected, failed, skipped, sampledOut, pending: outbox.queued, dead: outbox.dead, shadowDeferred, shadowLate, shadowShed };
  }
}
