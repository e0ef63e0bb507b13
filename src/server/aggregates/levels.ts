/**
 * Time buckets of the aggregates and how a window is covered by them. Every prediction is added to one bucket of
 * each level; a window [from, to) rounded out to whole minutes is covered by at most two ranges of buckets per level
 * (coarsest first), so any window merges a few hundred rows at most, whatever its length.
 */

/** Bucket widths in seconds, finest first: minute, 10 minutes, hour, 6 hours, day, 30 days. Each divides the next. */
export const LEVELS_S = [60, 600, 3600, 21_600, 86_400, 2_592_000] as const;
/** The finest level: windows are answered at this resolution (rounded out to whole minutes). */
export const RESOLUTION_S = LEVELS_S[0];

/** Buckets `[fromS, toS)` (bucket start times) of one level. */
export interface LevelRange {
  level: number;
  fromS: number;
  toS: number;
}

/** Start of the bucket of width `level` holding `t`. */
export function bucketOf(t: number, level: number): number {
  return Math.floor(t / level) * level;
}

/** The window [fromS, toS] (inclusive, epoch seconds) rounded out to whole minutes: [start, end). */
export function roundWindow(fromS: number, toS: number): { startS: number; endS: number } {
  return { startS: bucketOf(fromS, RESOLUTION_S), endS: bucketOf(toS, RESOLUTION_S) + RESOLUTION_S };
}

/**
 * Covers the minute-aligned window [startS, endS) with buckets of the given levels (default all), coarsest first:
 * each level takes the whole buckets inside what is left, the ragged edges go to the next finer level.
 */
export function coverWindow(startS: number, endS: number, levels: readonly number[] = LEVELS_S): LevelRange[] {
  const sorted = [...levels].sort((a, b) => b - a);
  const out: LevelRange[] = [];
  let segments: [number, number][] = endS > startS ? [[startS, endS]] : [];
  for (const level of sorted) {
    const next: [number, number][] = [];
    for (const [x, y] of segments) {
      const a = Math.ceil(x / level) * level;
      const b = Math.floor(y / level) * level;
      if (a < b) {
        out.push({ level, fromS: a, toS: b });
        if (x < a) next.push([x, a]);
        if (b < y) next.push([b, y]);
      } else next.push([x, y]);
    }
    segments = next;
  }
  return out;
}

/** Chart points at most, whatever the window (issue #14: a window of 10^6 years still gives this many). */
export const MAX_TIMELINE_POINTS = 240;
/** Points aimed at when the bucket is chosen automatically. */
const AUTO_POINTS = 60;
// Chart widths: each is at most 7 buckets of the coarsest level dividing it, so a chart reads at most ~7 rows per point and class pair.
const NICE_S = [60, 120, 300, 600, 1200, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, 2_592_000];

/**
 * Width of the chart buckets for a span: `askedS` rounded up to whole minutes when given, else a nice width giving
 * about 60 points; either way widened until the span has at most `MAX_TIMELINE_POINTS` points. Always a multiple of
 * a level that divides it, so no aggregate bucket straddles two chart buckets.
 */
export function timelineBucket(spanS: number, askedS?: number): number {
  const fits = (b: number, points: number) => spanS / b <= points;
  let b: number;
  if (askedS !== undefined) b = Math.ceil(askedS / RESOLUTION_S) * RESOLUTION_S;
  else b = NICE_S.find((n) => fits(n, AUTO_POINTS)) ?? 2_592_000 * Math.ceil(spanS / AUTO_POINTS / 2_592_000);
  if (!fits(b, MAX_TIMELINE_POINTS)) {
    b = NICE_S.find((n) => n >= b && fits(n, MAX_TIMELINE_POINTS)) ?? 2_592_000 * Math.ceil(spanS / MAX_TIMELINE_POINTS / 2_592_000);
  }
  // A width that no level divides evenly (e.g. 90 s) is answered at the finest level, which divides every multiple of 60.
  return b;
}

/** The coarsest level dividing `bucketS`. */
export function levelDividing(bucketS: number): number {
  return [...LEVELS_S].reverse().find((l) => bucketS % l === 0) ?? RESOLUTION_S;
}
