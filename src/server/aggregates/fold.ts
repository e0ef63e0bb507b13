/** Folds summed bucket rows into the numbers the replies show: latency summaries, label counts, class pairs. */
import type { BinRow, CountsRow, PairRow } from './reader.js';
import { NO_CLASS, NO_SHADOW, ROLE } from './schema.js';
import { addBin, LATENCY_RELATIVE_ERROR, quantilesMs, type BinWeights } from './sketch.js';

/** Rounds to `digits` decimals (weighted sums are floats). */
export function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Latency of one model over a window, in milliseconds; percentiles within `relativeError` of the exact ones. */
export interface LatencySummary {
  /** Predictions stored. */
  count: number;
  /** Predictions estimated from the sampling weights (= count when every image is sent). */
  estimated: number;
  meanMs: number;
  minMs: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  relativeError: number;
}

/** The latency summary of `role` over the dimensions in `dims` (null when none of them has a prediction). */
export function latencySummary(counts: readonly CountsRow[], bins: readonly BinRow[], role: number, dims: ReadonlySet<number>): LatencySummary | null {
  const shadow = role === ROLE.shadow;
  let n = 0;
  let w = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const c of counts) {
    if (!dims.has(c.dimId)) continue;
    n += shadow ? c.shadowN : c.n;
    w += shadow ? c.shadowW : c.w;
    sum += shadow ? c.shadowLatSumW : c.latSumW;
    const lo = shadow ? c.shadowLatMin : c.latMin;
    const hi = shadow ? c.shadowLatMax : c.latMax;
    if (lo !== null) min = Math.min(min, lo);
    if (hi !== null) max = Math.max(max, hi);
  }
  if (n <= 0 || w <= 0) return null;
  const h = sketchOf(bins, role, dims);
  const [p50, p90, p95, p99] = quantilesMs(h, [50, 90, 95, 99], min, max) as [number, number, number, number];
  return { count: n, estimated: round(w), meanMs: round(sum / w, 3), minMs: round(min, 3), p50Ms: round(p50, 3), p90Ms: round(p90, 3), p95Ms: round(p95, 3), p99Ms: round(p99, 3), maxMs: round(max, 3), relativeError: LATENCY_RELATIVE_ERROR };
}

/** The merged latency sketch of `role` over `dims`. */
export function sketchOf(bins: readonly BinRow[], role: number, dims: ReadonlySet<number>): BinWeights {
  const h: BinWeights = new Map();
  for (const b of bins) if (b.role === role && dims.has(b.dimId)) addBin(h, b.bin, b.w);
  return h;
}

/** Per class id (null = empty prediction): stored count, weighted count and weighted score sum of `role`'s top-1. */
export interface ClassTally {
  n: number;
  w: number;
  scoreW: number;
}

/** Top-1 tallies of `role` over `dims` from the class pairs. */
export function classTallies(pairs: readonly PairRow[], role: number, dims: ReadonlySet<number>): Map<number | null, ClassTally> {
  const out = new Map<number | null, ClassTally>();
  for (const p of pairs) {
    if (!dims.has(p.dimId)) continue;
    const cls = role === ROLE.champion ? p.championClass : p.shadowClass;
    if (cls === NO_SHADOW) continue;
    const key = cls === NO_CLASS ? null : cls;
    const t = out.get(key) ?? { n: 0, w: 0, scoreW: 0 };
    t.n += p.n;
    t.w += p.w;
    t.scoreW += role === ROLE.champion ? p.championScoreW : p.shadowScoreW;
    out.set(key, t);
  }
  return out;
}

/** Classes seen as top-1 by either model, ascending, with null ("(none)") last. */
export function classesOf(pairs: readonly PairRow[]): (number | null)[] {
  const ids = new Set<number>();
  let none = false;
  for (const p of pairs) {
    if (p.n <= 0) continue;
    for (const c of [p.championClass, p.shadowClass]) {
      if (c === NO_CLASS) none = true;
      else if (c !== NO_SHADOW) ids.add(c);
    }
  }
  const out: (number | null)[] = [...ids].sort((a, b) => a - b);
  if (none) out.push(null);
  return out;
}

/** Display name of a class id. */
export function labelOf(labels: readonly string[], id: number | null): string {
  return id === null ? '(none)' : (labels[id] ?? `class ${id}`);
}

/** Weighted agreement of champion and shadow top-1 over `dims` (predictions with a shadow only). */
export function agreementOf(pairs: readonly PairRow[], dims: ReadonlySet<number>): { compared: number; agreed: number; rate: number | null; comparedStored: number } {
  let compared = 0;
  let agreed = 0;
  let comparedStored = 0;
  for (const p of pairs) {
    if (!dims.has(p.dimId) || p.shadowClass === NO_SHADOW) continue;
    compared += p.w;
    comparedStored += p.n;
    if (p.championClass === p.shadowClass) agreed += p.w;
  }
  return { compared: round(compared), agreed: round(agreed), rate: compared <= 0 ? null : round(agreed / compared), comparedStored };
}
