/** The dashboard's statistics document (`GET /api/deployment/{id}/stats` without `service`), computed from merged buckets. */
import { driftSplit, MIN_DRIFT_WINDOW, populationStabilityIndex, PSI_EPSILON, psiStatus } from './drift.js';
import { agreementOf, classesOf, classTallies, labelOf, latencySummary, round, sketchOf } from './fold.js';
import { coverWindow, LEVELS_S, levelDividing, MAX_TIMELINE_POINTS, RESOLUTION_S, timelineBucket } from './levels.js';
import type { AggregateReader, CountsRow, Dim, PairRow } from './reader.js';
import { NO_CLASS, NO_SHADOW, ROLE } from './schema.js';
import { binValueMs, LATENCY_RELATIVE_ERROR } from './sketch.js';
import { exactDims, resolveWindow, selectDims, type StatsFilter } from './window.js';

/** Buckets of the latency histograms. */
export const HISTOGRAM_BINS = 20;

/** Options of the dashboard statistics. */
export interface DashboardStatsOptions {
  labels: readonly string[];
  /** Chart bucket width asked for (seconds); automatic (about 60 points) when absent; never more than `MAX_TIMELINE_POINTS` points. */
  bucketSeconds?: number | undefined;
  /** Predictions in each PSI window. */
  driftWindow: number;
}

function tally(entries: Iterable<[string | null, number]>): { name: string; count: number }[] {
  const m = new Map<string, number>();
  for (const [k, n] of entries) if (k !== null && n > 0) m.set(k, (m.get(k) ?? 0) + n);
  return [...m].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

function histogramOf(latency: Awaited<ReturnType<AggregateReader['latency']>>, ids: ReadonlySet<number>, lo: number, hi: number) {
  if (hi <= lo) hi = lo + 1;
  const width = (hi - lo) / HISTOGRAM_BINS;
  const edgesMs = Array.from({ length: HISTOGRAM_BINS + 1 }, (_, i) => round(lo + i * width, 3));
  const fill = (role: number) => {
    const h = new Array<number>(HISTOGRAM_BINS).fill(0);
    for (const [bin, w] of sketchOf(latency, role, ids)) {
      const i = Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor((binValueMs(bin) - lo) / width)));
      h[i] = round((h[i] as number) + w);
    }
    return h;
  };
  return { edgesMs, champion: fill(ROLE.champion), shadow: fill(ROLE.shadow), relativeError: LATENCY_RELATIVE_ERROR };
}

async function timelineOf(reader: AggregateReader, ids: number[], firstS: number, lastS: number, clip: { startS: number; endS: number }, asked: number | undefined, classIds: (number | null)[]) {
  if (lastS < firstS) return { bucketSeconds: timelineBucket(0, asked), maxPoints: MAX_TIMELINE_POINTS, t: [], traffic: [], withShadow: [], agreementRate: [], championLabels: classIds.map(() => []), shadowLabels: classIds.map(() => []) };
  const spanS = lastS - firstS;
  const bucketSeconds = timelineBucket(spanS, asked);
  const level = levelDividing(bucketSeconds);
  const first = Math.floor(firstS / bucketSeconds) * bucketSeconds;
  const last = Math.floor(lastS / bucketSeconds) * bucketSeconds;
  const points = Math.min(MAX_TIMELINE_POINTS + 1, Math.round((last - first) / bucketSeconds) + 1);
  // Chart buckets are clipped to the window, so that the chart adds up to the totals.
  const ranges = coverWindow(Math.max(first, clip.startS), Math.min(first + points * bucketSeconds, clip.endS), LEVELS_S.filter((l) => l <= level));
  const rows = await reader.timeline(ids, ranges, bucketSeconds);
  const index = new Map(classIds.map((c, i) => [c, i]));
  const zeros = () => new Array<number>(points).fill(0);
  const traffic = zeros();
  const withShadow = zeros();
  const agreed = zeros();
  const championLabels = classIds.map(zeros);
  const shadowLabels = classIds.map(zeros);
  for (const r of rows) {
    const b = Math.round((r.t - first) / bucketSeconds);
    if (b < 0 || b >= points || r.n === 0) continue;
    traffic[b] = (traffic[b] as number) + r.w;
    const ci = index.get(r.championClass === NO_CLASS ? null : r.championClass);
    if (ci !== undefined) (championLabels[ci] as number[])[b] = ((championLabels[ci] as number[])[b] as number) + r.w;
    if (r.shadowClass !== NO_SHADOW) {
      withShadow[b] = (withShadow[b] as number) + r.w;
      const si = index.get(r.shadowClass === NO_CLASS ? null : r.shadowClass);
      if (si !== undefined) (shadowLabels[si] as number[])[b] = ((shadowLabels[si] as number[])[b] as number) + r.w;
      if (r.championClass === r.shadowClass) agreed[b] = (agreed[b] as number) + r.w;
    }
  }
  const r6 = (xs: number[]) => xs.map((x) => round(x));
  return {
    bucketSeconds,
    maxPoints: MAX_TIMELINE_POINTS,
    t: Array.from({ length: points }, (_, i) => first + i * bucketSeconds),
    traffic: r6(traffic),
    withShadow: r6(withShadow),
    agreementRate: withShadow.map((w, b) => (w <= 0 ? null : round((agreed[b] as number) / w))),
    championLabels: championLabels.map(r6),
    shadowLabels: shadowLabels.map(r6),
  };
}

async function driftOf(reader: AggregateReader, ids: number[], startS: number, endS: number, total: number, driftWindow: number, classIds: (number | null)[], labels: readonly string[]) {
  const window = Math.min(driftWindow, Math.floor(total / 2));
  const about = {
    metric: 'PSI',
    name: 'Population Stability Index of the champion top-1 label distribution, recent window vs reference window',
    formula: 'PSI = sum_i (r_i - b_i) * ln(r_i / b_i); b_i, r_i = class shares in the reference and recent windows, smoothed as (share + epsilon) / (1 + K * epsilon)',
    epsilon: PSI_EPSILON,
    thresholds: { stable: '< 0.1', moderate: '0.1 to < 0.25', significant: '>= 0.25' },
    windowSize: window,
    windowRule: `the reference is the first whole minutes holding at least windowSize predictions, the recent window the last ones (not overlapping the reference)`,
  };
  const insufficient = (reason: string) => ({ ...about, psi: null, status: 'insufficient-data', reason, reference: null, recent: null, perClass: [] });
  if (window < MIN_DRIFT_WINDOW) return insufficient(`needs at least ${2 * MIN_DRIFT_WINDOW} predictions`);
  const { referenceEndS, recentStartS } = await driftSplit(reader, ids, startS, endS, window);
  const part = async (a: number, b: number) => {
    const ranges = coverWindow(a, b);
    const [pairs, counts] = await Promise.all([reader.pairs(ids, ranges), reader.counts(ids, ranges)]);
    const tallies = classTallies(pairs, ROLE.champion, new Set(ids));
    const c = counts.reduce((s, r) => ({ w: s.w + r.w, from: Math.min(s.from, r.tMin ?? Infinity), to: Math.max(s.to, r.tMax ?? -Infinity) }), { w: 0, from: Infinity, to: -Infinity });
    return { counts: classIds.map((id) => tallies.get(id)?.w ?? 0), span: { from: c.from, to: c.to, count: round(c.w) }, w: c.w };
  };
  const [ref, rec] = await Promise.all([part(startS, referenceEndS), part(recentStartS, endS)]);
  if (rec.w < MIN_DRIFT_WINDOW) return insufficient(`needs predictions in at least two different minutes (at least ${MIN_DRIFT_WINDOW} in the recent window)`);
  const used = classIds.map((_, i) => i).filter((i) => (ref.counts[i] as number) + (rec.counts[i] as number) > 0);
  const { psi, terms } = populationStabilityIndex(used.map((i) => ref.counts[i] as number), used.map((i) => rec.counts[i] as number));
  return {
    ...about,
    psi: round(psi),
    status: psiStatus(psi),
    reference: ref.span,
    recent: rec.span,
    perClass: used.map((i, j) => ({
      id: classIds[i] ?? null,
      label: labelOf(labels, classIds[i] ?? null),
      referenceShare: round((ref.counts[i] as number) / ref.w),
      recentShare: round((rec.counts[i] as number) / rec.w),
      term: round(terms[j] as number),
    })),
  };
}

/** Computes the dashboard's statistics for a filter. */
export async function computeDashboardStats(reader: AggregateReader, filter: StatsFilter, options: DashboardStatsOptions) {
  const all = await reader.dims(filter.deploymentId);
  const ids = selectDims(all, filter).map((d) => d.id);
  // Sources, tags and reported names are tallied on the exact dimensions (their counts only).
  const dims: Dim[] = exactDims(all, filter);
  const idSet = new Set(ids);
  const win = resolveWindow(filter);
  const [counts, pairs, latency, exactCounts] = await Promise.all([
    reader.counts(ids, win.ranges),
    reader.pairs(ids, win.ranges),
    reader.latency(ids, win.ranges),
    reader.counts(dims.map((d) => d.id), win.ranges),
  ]);
  const byDim = new Map<number, CountsRow>(exactCounts.map((c) => [c.dimId, c]));
  const sum = (f: (c: CountsRow) => number) => counts.reduce((s, c) => s + f(c), 0);
  const n = sum((c) => c.n);
  const firstTimestamp = n === 0 ? null : Math.min(...counts.map((c) => c.tMin ?? Infinity));
  const lastTimestamp = n === 0 ? null : Math.max(...counts.map((c) => c.tMax ?? -Infinity));
  const nOf = (d: Dim) => byDim.get(d.id)?.n ?? 0;
  const shadowNOf = (d: Dim) => byDim.get(d.id)?.shadowN ?? 0;

  const classIds = classesOf(pairs as PairRow[]);
  const champion = latencySummary(counts, latency, ROLE.champion, idSet);
  const shadow = latencySummary(counts, latency, ROLE.shadow, idSet);
  const champTallies = classTallies(pairs, ROLE.champion, idSet);
  const shadowTallies = classTallies(pairs, ROLE.shadow, idSet);
  const index = new Map(classIds.map((c, i) => [c, i]));
  const matrix = classIds.map(() => classIds.map(() => 0));
  for (const p of pairs) {
    if (p.shadowClass === NO_SHADOW) continue;
    const row = matrix[index.get(p.championClass === NO_CLASS ? null : p.championClass) as number] as number[];
    const si = index.get(p.shadowClass === NO_CLASS ? null : p.shadowClass) as number;
    row[si] = round((row[si] as number) + p.w);
  }
  const meanOf = (t: typeof champTallies) => classIds.map((id) => {
    const e = t.get(id);
    return id === null || e === undefined || e.w <= 0 ? null : round(e.scoreW / e.w);
  });
  const agreement = agreementOf(pairs, idSet);
  const startS = win.open.from ? (firstTimestamp === null ? 0 : Math.floor(firstTimestamp / RESOLUTION_S) * RESOLUTION_S) : win.startS;
  const endS = win.open.to ? (lastTimestamp === null ? 0 : Math.floor(lastTimestamp / RESOLUTION_S) * RESOLUTION_S + RESOLUTION_S) : win.endS;
  // The chart spans the window asked for; an open side ends at the data (an empty "All" has no points).
  const openAndEmpty = n === 0 && (win.open.from || win.open.to);
  const timelineFirst = openAndEmpty ? 1 : win.open.from ? (firstTimestamp as number) : startS;
  const timelineLast = openAndEmpty ? 0 : win.open.to ? (lastTimestamp as number) : endS - 1;
  return {
    window: { from: win.open.from ? null : win.startS, to: win.open.to ? null : win.endS, resolutionSeconds: RESOLUTION_S, note: 'windows are rounded out to whole minutes' },
    counts: {
      predictions: n,
      estimated: round(sum((c) => c.w)),
      withShadow: sum((c) => c.shadowN),
      withShadowEstimated: round(sum((c) => c.shadowW)),
      firstTimestamp,
      lastTimestamp,
      sources: tally(dims.map((d) => [d.source, nOf(d)])),
      tags: tally(dims.flatMap((d) => d.tags.map((t) => [t, nOf(d)] as [string, number]))),
    },
    models: {
      champion: tally(dims.map((d) => [d.names.champion, nOf(d)])),
      shadow: tally(dims.map((d) => [d.names.shadow, shadowNOf(d)])),
      backends: tally(dims.map((d) => [d.names.backend, nOf(d)])),
      agentVersions: tally(dims.map((d) => [d.names.agentVersion, nOf(d)])),
      championVersions: tally(dims.map((d) => [d.championVersion || null, nOf(d)])),
      shadowVersions: tally(dims.map((d) => [d.shadowVersion || null, shadowNOf(d)])),
    },
    classes: classIds.map((id) => ({ id, label: labelOf(options.labels, id) })),
    latency: {
      unit: 'ms',
      percentileMethod: `nearest-rank on a log-bucketed sketch: each percentile is within ±${LATENCY_RELATIVE_ERROR * 100} % of the exact value`,
      relativeError: LATENCY_RELATIVE_ERROR,
      champion,
      shadow,
      histogram: champion === null ? null : histogramOf(latency, idSet, Math.min(champion.minMs, shadow?.minMs ?? Infinity), Math.max(champion.p99Ms, shadow?.p99Ms ?? -Infinity)),
    },
    labelDistribution: { champion: classIds.map((id) => round(champTallies.get(id)?.w ?? 0)), shadow: classIds.map((id) => round(shadowTallies.get(id)?.w ?? 0)) },
    agreement: { compared: agreement.compared, agreed: agreement.agreed, rate: agreement.rate },
    confusion: { rows: 'champion', columns: 'shadow', matrix },
    meanScore: { champion: meanOf(champTallies), shadow: meanOf(shadowTallies) },
    drift: await driftOf(reader, ids, startS, endS, sum((c) => c.w), options.driftWindow, classIds, options.labels),
    timeline: await timelineOf(reader, ids, timelineFirst, timelineLast, { startS, endS }, options.bucketSeconds, classIds),
  };
}

/** The dashboard statistics document (without the deployment and filter echo). */
export type DashboardStats = Awaited<ReturnType<typeof computeDashboardStats>>;
