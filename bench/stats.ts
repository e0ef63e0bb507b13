/** Summary statistics of repeated benchmark rounds: median with min–max and interquartile range. */

/** Median, spread and count of a series. */
export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
}

/** The linear-interpolated q-quantile (0..1) of sorted values. */
function quantileSorted(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Summarises a series (NaN everywhere when empty). */
export function spreadOf(values: number[]): Spread {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantileSorted(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    q1: quantileSorted(sorted, 0.25),
    q3: quantileSorted(sorted, 0.75),
  };
}

/** The value at quantile q (0..1) of an unsorted series. */
export function quantile(values: number[], q: number): number {
  return quantileSorted(values.filter(Number.isFinite).sort((a, b) => a - b), q);
}

/** Ratios of two series round by round (a[i]/b[i] for every pair), for a median with spread. */
export function pairwiseRatios(a: number[], b: number[]): number[] {
  const out: number[] = [];
  for (const x of a) for (const y of b) out.push(x / y);
  return out;
}

/** `12.3 (11.9–12.8)` with `digits` decimals. */
export function formatSpread(s: Spread, digits = 1): string {
  if (s.n === 0) return 'n/a';
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}
