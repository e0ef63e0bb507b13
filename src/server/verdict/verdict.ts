/**
 * The champion/shadow verdict from reviewed predictions (pure). Paired traffic splits into two strata with known sizes:
 * agreements (same top-1: both right or both wrong, so they cannot change the difference) and disagreements. The review
 * queue draws disagreements first, so reviews are weighted by stratum size / reviews in that stratum (inverse probability
 * of being reviewed): each estimate is the stratum-weighted mean, unbiased whatever the share of each stratum reviewed.
 */
import { Z95, mcnemarExactP, newcombePairedDifference, wilson } from './interval-math.js';

/** Counts the verdict is computed from, for one comparison period (one champion/shadow pair). */
export interface VerdictCounts {
  /** Predictions of the period with a shadow prediction whose top-1 equals the champion's. */
  agreements: number;
  /** Predictions of the period with a shadow prediction whose top-1 differs from the champion's. */
  disagreements: number;
  /** Reviewed agreements, and how many of them both models got right. */
  reviewedAgreements: number;
  agreementsRight: number;
  /** Reviewed disagreements as a paired table. */
  bothRight: number;
  onlyChampionRight: number;
  onlyShadowRight: number;
  neitherRight: number;
}

/** One model's accuracy over the period's paired traffic (null when a stratum with traffic has no review yet). */
export interface ModelAccuracy {
  accuracy: number | null;
  low: number | null;
  high: number | null;
  /** Kish effective sample size the Wilson interval uses. */
  effectiveReviews: number | null;
}

/** The verdict served to the dashboard. Differences are shadow − champion in accuracy points (percent). */
export interface Verdict {
  traffic: { paired: number; agreements: number; disagreements: number };
  reviewed: { total: number; agreements: number; disagreements: number };
  champion: ModelAccuracy;
  shadow: ModelAccuracy;
  paired: { bothRight: number; onlyChampionRight: number; onlyShadowRight: number; neitherRight: number; pValue: number };
  /** Shadow − champion accuracy on all paired traffic, percentage points, with its 95 % interval. */
  difference: { points: number; low: number; high: number } | null;
  settled: boolean;
  better: 'champion' | 'shadow' | null;
  /** More reviews of disagreements that would likely settle it (null when settled or when no difference is seen). */
  moreReviewsNeeded: number | null;
  sentence: string;
}

/** Significance level of "settled". */
export const ALPHA = 0.05;
const SEARCH_LIMIT = 1_000_000;

function accuracyOf(c: VerdictCounts, rightInDisagreements: number): ModelAccuracy {
  const n = c.agreements + c.disagreements;
  const none: ModelAccuracy = { accuracy: null, low: null, high: null, effectiveReviews: null };
  if (n === 0) return none;
  if ((c.agreements > 0 && c.reviewedAgreements === 0) || (c.disagreements > 0 && reviewedDisagreements(c) === 0)) return none;
  const wA = c.agreements / n;
  const wD = c.disagreements / n;
  const accA = c.reviewedAgreements === 0 ? 0 : c.agreementsRight / c.reviewedAgreements;
  const accD = reviewedDisagreements(c) === 0 ? 0 : rightInDisagreements / reviewedDisagreements(c);
  const accuracy = wA * accA + wD * accD;
  // Each review weighs (stratum size / reviews in it); Kish: n_eff = (Σw)² / Σw² = N² / Σ N_s² / n_s.
  const sumSq = (c.reviewedAgreements === 0 ? 0 : c.agreements ** 2 / c.reviewedAgreements) + (reviewedDisagreements(c) === 0 ? 0 : c.disagreements ** 2 / reviewedDisagreements(c));
  const effective = (n * n) / sumSq;
  const w = wilson(accuracy, effective);
  return { accuracy, low: w.low, high: w.high, effectiveReviews: effective };
}

function reviewedDisagreements(c: VerdictCounts): number {
  return c.bothRight + c.onlyChampionRight + c.onlyShadowRight + c.neitherRight;
}

/** erfc(x) for x ≥ 0 (Numerical Recipes' erfcc: fractional error below 1.2e-7). */
function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * x);
  const poly = -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * Math.exp(poly);
}

/** McNemar's p with `wins` of `m` discordant pairs: exact up to EXACT_LIMIT, the continuity-corrected normal test beyond (where they agree). */
function pValueAt(wins: number, m: number): number {
  if (m <= EXACT_LIMIT) return mcnemarExactP(wins, m - wins);
  const z = Math.max(0, Math.abs(2 * wins - m) - 1) / Math.sqrt(m);
  return Math.min(1, erfc(z / Math.SQRT2));
}

const EXACT_LIMIT = 2000;

/**
 * Discordant reviews (one model right, the other wrong) needed in total for McNemar's test to fall below ALPHA if the
 * share won by the leader stays what it is now; null when nobody leads or beyond SEARCH_LIMIT. Doubling, then bisection
 * (about 40 tests whatever the answer), so a near-even split costs no more than a clear one.
 */
export function discordantNeeded(leaderWins: number, discordant: number): number | null {
  if (discordant === 0) return 6; // the smallest m with 2 · 0.5^m < 0.05, the best any evidence can do
  const share = leaderWins / discordant;
  if (share <= 0.5) return null;
  const settles = (m: number) => pValueAt(Math.round(m * share), m) < ALPHA;
  let low = Math.max(discordant, 1);
  if (settles(low)) return low;
  let high = Math.min(low * 2, SEARCH_LIMIT);
  while (!settles(high)) {
    if (high >= SEARCH_LIMIT) return null;
    low = high;
    high = Math.min(high * 2, SEARCH_LIMIT);
  }
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (settles(mid)) high = mid;
    else low = mid;
  }
  return high;
}

function formatPoints(x: number): string {
  return (Math.round(x * 10) / 10).toFixed(1);
}

function formatP(p: number): string {
  if (p < 0.001) return '< 0.001';
  return `= ${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}

function about(n: number): number {
  return n < 20 ? n : n < 200 ? Math.round(n / 5) * 5 : Math.round(n / 10) * 10;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** The verdict of one comparison period. */
export function computeVerdict(c: VerdictCounts): Verdict {
  const nD = reviewedDisagreements(c);
  const paired = c.agreements + c.disagreements;
  const pValue = mcnemarExactP(c.onlyChampionRight, c.onlyShadowRight);
  const base = {
    traffic: { paired, agreements: c.agreements, disagreements: c.disagreements },
    reviewed: { total: c.reviewedAgreements + nD, agreements: c.reviewedAgreements, disagreements: nD },
    champion: accuracyOf(c, c.bothRight + c.onlyChampionRight),
    shadow: accuracyOf(c, c.bothRight + c.onlyShadowRight),
    paired: { bothRight: c.bothRight, onlyChampionRight: c.onlyChampionRight, onlyShadowRight: c.onlyShadowRight, neitherRight: c.neitherRight, pValue },
  };
  if (paired === 0) return { ...base, difference: null, settled: false, better: null, moreReviewsNeeded: null, sentence: 'not settled: no prediction with both a champion and a shadow in this period yet' };
  if (c.disagreements === 0) {
    return { ...base, difference: { points: 0, low: 0, high: 0 }, settled: true, better: null, moreReviewsNeeded: null, sentence: `no difference: the models agreed on all ${paired} predictions of this period` };
  }
  const wD = c.disagreements / paired;
  const inD = newcombePairedDifference({ both: c.bothRight, onlyFirst: c.onlyShadowRight, onlySecond: c.onlyChampionRight, neither: c.neitherRight }, Z95);
  const difference = nD === 0 ? null : { points: 100 * wD * inD.estimate, low: 100 * wD * inD.low, high: 100 * wD * inD.high };
  const from = `from ${plural(nD, 'reviewed disagreement')}`;
  const discordant = c.onlyChampionRight + c.onlyShadowRight;
  const settled = pValue < ALPHA;
  const leader = c.onlyShadowRight > c.onlyChampionRight ? 'shadow' : c.onlyChampionRight > c.onlyShadowRight ? 'champion' : null;
  const described = (d: { points: number; low: number; high: number }, who: 'shadow' | 'champion') =>
    who === 'shadow' ? `shadow better by ${formatPoints(d.points)} points (${formatPoints(d.low)}–${formatPoints(d.high)})` : `champion better by ${formatPoints(-d.points)} points (${formatPoints(-d.high)}–${formatPoints(-d.low)})`;
  if (settled && leader !== null && difference !== null) {
    return { ...base, difference, settled: true, better: leader, moreReviewsNeeded: null, sentence: `${described(difference, leader)}, p ${formatP(pValue)}, ${from}` };
  }
  const unreviewed = Math.max(0, c.disagreements - nD);
  let more: number | null = null;
  if (nD === 0) more = Math.min(6, c.disagreements);
  else if (discordant > 0) {
    const needed = discordantNeeded(Math.max(c.onlyChampionRight, c.onlyShadowRight), discordant);
    if (needed !== null) more = Math.max(1, Math.ceil(((needed - discordant) * nD) / discordant));
  }
  let sentence: string;
  if (more === null) {
    sentence = discordant === 0 ? `not settled: neither model was right where they disagreed (${from})` : `not settled: no difference so far (${c.onlyShadowRight} vs ${c.onlyChampionRight}, ${from})`;
  } else {
    const lead = leader !== null && difference !== null ? `; so far ${described(difference, leader)}, p ${formatP(pValue)}, ${from}` : nD > 0 ? `; ${from}` : '';
    const short = more > unreviewed ? ` (only ${plural(unreviewed, 'unreviewed disagreement')} so far: wait for more traffic)` : '';
    sentence = `not settled: about ${about(more)} more ${more === 1 ? 'review' : 'reviews'} of disagreements${short}${lead}`;
  }
  return { ...base, difference, settled: false, better: null, moreReviewsNeeded: more, sentence };
}
