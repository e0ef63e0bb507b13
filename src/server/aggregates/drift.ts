/** Drift measures on merged aggregates: PSI of label distributions, Kolmogorov–Smirnov of top-1 score histograms, and where the drift windows lie. */
import { RESOLUTION_S } from './levels.js';
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
 * Ends of the drift windows inside [startS, endS): the reference is the shortest run of minutes from the start holding
 * at least `size` (weighted) predictions, the recent window the shortest run from the end, cut where the reference
 * ends if they would overlap. Reads per-minute counts, `limit` minutes at a time.
 */
export async function driftSplit(reader: AggregateReader, dimIds: readonly number[], startS: number, endS: number, size: number): Promise<{ referenceEndS: number; recentStartS: number }> {
  const walk = async (backwards: boolean): Promise<number> => {
    let cum = 0;
    let from = startS;
    let to = endS;
    for (;;) {
      const rows = await reader.minuteCounts(dimIds, from, to, backwards, 500);
      for (const r of rows) {
        cum += r.w;
        if (cum >= size) return backwards ? r.bucket : r.bucket + RESOLUTION_S;
      }
      if (rows.length < 500) return backwards ? startS : endS;
      const last = rows[rows.length - 1] as { bucket: number };
      if (backwards) to = last.bucket;
      else from = last.bucket + RESOLUTION_S;
    }
  };
  const referenceEndS = await walk(false);
  const recentStartS = Math.max(referenceEndS, await walk(true));
  return { referenceEndS, recentStartS };
}
