/** Does the shadow keep up? Whether the champion's request waits for the shadow's prediction or goes out alone. */
import type { PipelineMetrics } from './metrics.js';
import type { PredictionJob } from './shadow-backlog.js';
import type { RawPrediction } from '../types.js';

type Model = { prediction: RawPrediction; latencySeconds: number };

/**
 * How long the champion's request may wait for a running shadow: twice the shadow's median latency
 * so far (plus 20 ms), or 2 s before the first one is known.
 */
export function shadowWaitMs(metrics: PipelineMetrics): number {
  return metrics.shadowMs.count > 0 ? 2 * metrics.shadowMs.quantile(0.5) + 20 : 2_000;
}

/**
 * The shadow keeps up when its prediction is done, or running and done within `waitMs` of its
 * start: then one request carries both. A shadow still queued once the champion's host has handed
 * on its slot (champion work waiting, or the cores busy), or running longer, is behind: the
 * champion's prediction goes out at once.
 */
export async function shadowInTime(job: PredictionJob, waitMs: number): Promise<{ kind: 'done'; result: Model } | { kind: 'behind' } | { kind: 'failed'; error: unknown }> {
  const settled = job.result.then(
    (result) => ({ kind: 'done' as const, result }),
    (error: unknown) => ({ kind: 'failed' as const, error }),
  );
  // The pool gives the champion's freed core to the next job after this continuation: let it.
  await new Promise((resolve) => setImmediate(resolve));
  const startedAt = job.startedAt;
  if (startedAt === undefined) return { kind: 'behind' };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ kind: 'behind' }>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'behind' }), Math.max(0, startedAt + waitMs - performance.now()));
  });
  const outcome = await Promise.race([settled, late]);
  clearTimeout(timer);
  return outcome;
}
