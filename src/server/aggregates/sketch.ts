/**
 * Log-bucketed latency histograms (the DDSketch mapping): a value x > 0 falls in bin ceil(log_γ x) with
 * γ = (1 + α) / (1 − α); the bin's representative value 2γ^i / (γ + 1) is within a relative error α of every
 * value of the bin, so any quantile read from merged bins is within α of the exact nearest-rank quantile.
 * Bins merge by adding their weights: any window's histogram is the sum of its buckets' histograms.
 */

/** Relative error bound of every latency percentile the service reports (1 %). */
export const LATENCY_RELATIVE_ERROR = 0.01;
const GAMMA = (1 + LATENCY_RELATIVE_ERROR) / (1 - LATENCY_RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);
/** Latencies below this (milliseconds) share the lowest bin: 1 µs, far below any model's inference time. */
export const LATENCY_FLOOR_MS = 1e-3;

/** Bin of a latency in milliseconds. */
export function latencyBin(ms: number): number {
  return Math.ceil(Math.log(Math.max(ms, LATENCY_FLOOR_MS)) / LOG_GAMMA);
}

/** Representative value (milliseconds) of a bin: within `LATENCY_RELATIVE_ERROR` of every value in it. */
export function binValueMs(bin: number): number {
  return (2 * GAMMA ** bin) / (GAMMA + 1);
}

/** A merged histogram: weight per bin. */
export type BinWeights = Map<number, number>;

/** Adds `w` to `bin`. */
export function addBin(h: BinWeights, bin: number, w: number): void {
  h.set(bin, (h.get(bin) ?? 0) + w);
}

/**
 * Weighted nearest-rank quantiles (p in 0..100) of a histogram: the representative value of the first bin whose
 * cumulative weight reaches p/100 of the total, clamped to [minMs, maxMs] (exact bounds kept beside the bins).
 */
export function quantilesMs(h: BinWeights, ps: readonly number[], minMs: number, maxMs: number): number[] {
  const bins = [...h].filter(([, w]) => w > 0).sort((a, b) => a[0] - b[0]);
  const total = bins.reduce((s, [, w]) => s + w, 0);
  return ps.map((p) => {
    if (total <= 0) return Number.NaN;
    const rank = Math.max((p / 100) * total, Number.MIN_VALUE);
    let cum = 0;
    for (const [bin, w] of bins) {
      cum += w;
      // A tolerance for float sums of weights 1/p.
      if (cum >= rank * (1 - 1e-12)) return Math.min(maxMs, Math.max(minMs, binValueMs(bin)));
    }
    return maxMs;
  });
}
