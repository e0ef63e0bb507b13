/** Does the shadow keep up? Whether the champion's request waits for the shadow's prediction or goes out alone. */
import type { ModelJob, TimedPrediction } from '../infer/index.js';
import type { PipelineMetrics } from './metrics.js';

/** What the shadow's latency so far says, read once per image (the median sorts the sample window). */
export interface ShadowTiming {
  /** Median latency of the shadow so far, ms; undefined before the first. */
  p50Ms: number | undefined;
  /** How long the champion's request may wait for a running shadow: twice its median (plus 20 ms), or 2 s before the first is known. */
  waitMs: number;
}

export function shadowTiming(metrics: PipelineMetrics): ShadowTiming {
  const p50Ms = metrics.shadowMs.count > 0 ? metrics.shadowMs.quantile(0.5) : undefined;
  return { p50Ms, waitMs: p50Ms === undefined ? 2_000 : 2 * p50Ms + 20 };
}

/** Is the shadow behind before this image's work is even queued: would its queue alone outlast what a request may wait? */
export function queueTooDeep(queued: number, timing: ShadowTiming): boolean {
  return queued > 0 && timing.p50Ms !== undefined && queued * timing.p50Ms > timing.waitMs;
}

/**
 * The shadow keeps up when its prediction is done, or running and done within `waitMs` of its
 * start: then one request carries both. A shadow still queued when the champion's result arrives
 * (the pool hands on the champion's slot first: champion work waiting, or the cores busy, kept it
 * back), or running longer, is behind: the champion's prediction goes out at once.
 */
export async function shadowInTime(job: ModelJob, waitMs: number): Promise<{ kind: 'done'; result: TimedPrediction } | { kind: 'behind' } | { kind: 'failed'; error: unknown }> {
  const startedAt = job.startedAt;
  if (startedAt === undefined) return { kind: 'behind' };
  const settled = job.result.then(
    (result) => ({ kind: 'done' as const, result }),
    (error: unknown) => ({ kind: 'failed' as const, error }),
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ kind: 'behind' }>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'behind' }), Math.max(0, startedAt + waitMs - performance.now()));
  });
  const outcome = await Promise.race([settled, late]);
  clearTimeout(timer);
  return outcome;
}
