/** Small, exact statistics of the verdict: Wilson score interval, exact McNemar test, Newcombe's paired-difference interval. Pure functions. */

/** z of a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

/** A proportion's interval, both ends in [0, 1]. */
export interface Interval {
  low: number;
  high: number;
}

/**
 * Wilson score interval of a proportion `p` observed on `n` trials (n may be an effective, non-integer sample size).
 * n = 0 gives [0, 1]: nothing is known.
 */
export function wilson(p: number, n: number, z = Z95): Interval {
  if (!(n > 0)) return { low: 0, high: 1 };
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** log(n!) by summation for small n, Stirling's series beyond (error < 1e-10 from n = 30). */
function logFactorial(n: number): number {
  if (n < 30) {
    let s = 0;
    for (let i = 2; i <= n; i += 1) s += Math.log(i);
    return s;
  }
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n ** 3) + 1 / (1260 * n ** 5);
}

/**
 * Exact two-sided McNemar p-value: with `b` pairs where only the first model is right and `c` where only the second is,
 * under "equally good" each discordant pair goes either way with probability 1/2, so
 * p = min(1, 2 · P(X ≤ min(b, c))) with X ~ Binomial(b + c, 1/2). No discordant pair gives 1.
 */
export function mcnemarExactP(b: number, c: number): number {
  const m = b + c;
  if (m === 0) return 1;
  const k = Math.min(b, c);
  const logHalfM = -m * Math.LN2;
  const logFm = logFactorial(m);
  let tail = 0;
  for (let i = 0; i <= k; i += 1) tail += Math.exp(logFm - logFactorial(i) - logFactorial(m - i) + logHalfM);
  return Math.min(1, 2 * tail);
}

/** A 2×2 table of paired outcomes: `both` right, `onlyFirst` right, `onlySecond` right, `neither` right. */
export interface PairedCounts {
  both: number;
  onlyFirst: number;
  onlySecond: number;
  neither: number;
}

/**
 * Newcombe's hybrid score interval (1998, method 10) for the difference p1 − p2 of two paired proportions,
 * where p1 = (both + onlyFirst)/n and p2 = (both + onlySecond)/n. Built from the Wilson intervals of p1 and p2 and the
 * correlation φ of the pairs; stays inside [−1, 1] and behaves at 0 and n, unlike the Wald interval.
 */
export function newcombePairedDifference(t: PairedCounts, z = Z95): { estimate: number; low: number; high: number } {
  const n = t.both + t.onlyFirst + t.onlySecond + t.neither;
  if (n === 0) return { estimate: 0, low: -1, high: 1 };
  const p1 = (t.both + t.onlyFirst) / n;
  const p2 = (t.both + t.onlySecond) / n;
  const w1 = wilson(p1, n, z);
  const w2 = wilson(p2, n, z);
  const a = t.both;
  const b = t.onlyFirst;
  const c = t.onlySecond;
  const d = t.neither;
  const denominator = (a + b) * (c + d) * (a + c) * (b + d);
  const phi = denominator === 0 ? 0 : (a * d - b * c) / Math.sqrt(denominator);
  const estimate = p1 - p2;
  const dl = Math.sqrt(Math.max(0, (p1 - w1.low) ** 2 - 2 * phi * (p1 - w1.low) * (w2.high - p2) + (w2.high - p2) ** 2));
  const dh = Math.sqrt(Math.max(0, (w1.high - p1) ** 2 - 2 * phi * (w1.high - p1) * (p2 - w2.low) + (p2 - w2.low) ** 2));
  return { estimate, low: Math.max(-1, estimate - dl), high: Math.min(1, estimate + dh) };
}
