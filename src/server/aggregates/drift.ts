/** Drift measures on merged aggregates: PSI of label distributions, Kolmogorov–Smirnov of top-1 score histograms, and where the drift windows lie. */
import { coverWindow, LEVELS_S, RESOLUTION_S, type LevelRange } from './levels.js';
import type { AggregateReader } from './reader.js';
import { SCORE_BINS } from './schema.js';

/** Epsilon added to every class share before the PSI logarithm, so that a class absent from one window gives a large but finite term. */
export const PSI_EPSILON = 1e-4;
/** Conventional PSI reading: below 0.1 stable, 0.1 to 0.25 moderate shift, 0.25 and above significant shift. */
export const PSI_THRESHOLDS = { moderate: 0.1, significant: 0.25 } as const;
/** Smallest window that gives a PSI worth reading. */
export const MIN_DRIFT_WINDOW = 10;

/**
 * Population Stability Index between two count vectors over the same classes:
 * PSI = Σ_i (r_i − b_i) · ln(r_i / b_i), where b_i and r_i are the reference and recent shares of class i smoothed as
 * (share + ε) / (1 + K·ε) with ε = PSI_EPSILON and K the number of classes. 0 means identical distributions.
 */
export function populationStabilityIndex(reference: readonly number[], recent: readonly number[], epsilon = PSI_EPSILON): { psi: number; terms: number[] } {
  const k = reference.length;
  const nb = reference.reduce((a, b) => a + b, 0);
  const nr = recent.reduce((a, b) => a + b, 0);
  const terms = reference.map((cb, i) => {
    const b = ((nb === 0 ? 0 : cb / nb) + epsilon) / (1 + k * epsilon);
    const r = ((nr === 0 ? 0 : (recent[i] as number) / nr) + epsilon) / (1 + k * epsilon);
    return (r - b) * Math.log(r / b);
  });
  return { psi: terms.reduce((a, b) => a + b, 0), terms };
}

/** Reading of a PSI value with the conventional thresholds. */
export function psiStatus(psi: number): 'stable' | 'moderate' | 'significant' {
  return psi < PSI_THRESHOLDS.moderate ? 'stable' : psi < PSI_THRESHOLDS.significant ? 'moderate' : 'significant';
}

/**
 * Two-sample Kolmogorov–Smirnov statistic D = max |F_ref − F_cur| over score histograms of `SCORE_BINS` bins (so D is
 * read at the bins' edges: a lower bound of the exact D, short of it by at most the mass of one bin), and its
 * asymptotic p-value with n_eff = n·m / (n + m) from the stored (unweighted) counts.
 */
export function kolmogorovSmirnov(reference: readonly number[], current: readonly number[], nRef: number, nCur: number): { statistic: number; pValue: number | null } {
  const tr = reference.reduce((a, b) => a + b, 0);
  const tc = current.reduce((a, b) => a + b, 0);
  if (tr <= 0 || tc <= 0) return { statistic: Number.NaN, pValue: null };
  let cr = 0;
  let cc = 0;
  let d = 0;
  for (let i = 0; i < SCORE_BINS; i++) {
    cr += reference[i] ?? 0;
    cc += current[i] ?? 0;
    d = Math.max(d, Math.abs(cr / tr - cc / tc));
  }
  const ne = (nRef * nCur) / (nRef + nCur);
  if (!(ne > 0)) return { statistic: d, pValue: null };
  const lambda = (Math.sqrt(ne) + 0.12 + 0.11 / Math.sqrt(ne)) * d;
  let p = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    p += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return { statistic: d, pValue: Math.min(1, Math.max(0, lambda < 1e-3 ? 1 : p)) };
}

/**
 * The first (or, `backwards`, last) whole minute at which the predictions of `ranges` add up to `size`, walking the
 * ranges in time order and refining the bucket where the sum crosses with the next finer level: a few dozen rows
 * per level, however long the window. Returns the minute boundary (exclusive end, or start when backwards), or null
 * when the ranges hold less than `size`.
 */
async function crossing(reader: AggregateReader, dimIds: readonly number[], ranges: readonly LevelRange[], size: number, backwards: boolean): Promise<number | null> {
  let cum = 0;
  const ordered = [...ranges].sort((a, b) => (backwards ? b.fromS - a.fromS : a.fromS - b.fromS));
  for (const r of ordered) {
    const rows = await reader.bucketCounts(dimIds, r);
    if (backwards) rows.reverse();
    for (const b of rows) {
      if (cum + b.w >= size) {
        if (r.level === RESOLUTION_S) return backwards ? b.bucket : b.bucket + RESOLUTION_S;
        const finer = LEVELS_S[LEVELS_S.indexOf(r.level as (typeof LEVELS_S)[number]) - 1] as number;
        return crossing(reader, dimIds, [{ level: finer, fromS: b.bucket, toS: b.bucket + r.level }], size - cum, backwards);
      }
      cum += b.w;
    }
  }
  return null;
}

/**
 * Ends of the drift windows inside [startS, endS): the reference is the shortest run of whole minutes from the start
 * holding at least `size` (weighted) predictions, the recent window the shortest run from the end, cut where the
 * reference ends if they would overlap.
 */
export async function driftSplit(reader: AggregateReader, dimIds: readonly number[], startS: number, endS: number, size: number): Promise<{ referenceEndS: number; recentStartS: number }> {
  const ranges = coverWindow(startS, endS);
  const referenceEndS = (await crossing(reader, dimIds, ranges, size, false)) ?? endS;
  const recentStartS = Math.max(referenceEndS, (await crossing(reader, dimIds, ranges, size, true)) ?? startS);
  return { referenceEndS, recentStartS };
}
