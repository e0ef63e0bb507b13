/** Champion/shadow statistics of one deployment: counts, latency percentiles and histograms, label distributions, agreement, confusion, mean scores and drift (PSI). */
import type { StatsRow } from './store.js';

/** Epsilon added to every class share before the PSI logarithm, so that a class absent from one window gives a large but finite term. */
export const PSI_EPSILON = 1e-4;
/** Conventional PSI reading: below 0.1 stable, 0.1 to 0.25 moderate shift, 0.25 and above significant shift. */
export const PSI_THRESHOLDS = { moderate: 0.1, significant: 0.25 } as const;
/** Buckets of the latency histograms. */
export const HISTOGRAM_BINS = 20;

const NICE_BUCKETS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400, 604_800];
const MAX_BUCKETS = 2000;

/** Options of one statistics computation. */
export interface StatsOptions {
  /** Class names by id. */
  labels: readonly string[];
  /** Time bucket width in seconds; chosen automatically (at most 40 buckets) when absent. */
  bucketSeconds?: number;
  /** Range asked for (epoch seconds), used to size automatic buckets. */
  fromS?: number;
  toS?: number;
  /** Predictions in each PSI window (reference = oldest, recent = newest); halved when there are fewer than twice as many. */
  driftWindow?: number;
}

/** p50/p95/p99 and friends, in milliseconds. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of an ascending array: the value at rank ceil(p/100 · n). */
export function percentile(sortedAsc: readonly number[], p: number): number {
  if (sortedAsc.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedAsc.length));
  return sortedAsc[Math.min(rank, sortedAsc.length) - 1] as number;
}

function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function summarize(valuesMs: number[]): LatencySummary | null {
  if (valuesMs.length === 0) return null;
  const s = [...valuesMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return {
    count: s.length,
    meanMs: round(mean, 3),
    minMs: round(s[0] as number, 3),
    p50Ms: round(percentile(s, 50), 3),
    p95Ms: round(percentile(s, 95), 3),
    p99Ms: round(percentile(s, 99), 3),
    maxMs: round(s[s.length - 1] as number, 3),
  };
}

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

function autoBucket(spanS: number): number {
  for (const b of NICE_BUCKETS_S) if (spanS / b <= 40) return b;
  return NICE_BUCKETS_S[NICE_BUCKETS_S.length - 1] as number;
}

interface ModelNames {
  name: string;
  hash: string | null;
}

function modelOf(value: unknown): ModelNames | null {
  if (typeof value === 'string' && value !== '') return { name: value, hash: null };
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    const name = typeof v.name === 'string' ? v.name : null;
    const hash = typeof v.hash === 'string' ? v.hash : typeof v.sha256 === 'string' ? v.sha256 : typeof v.contentHash === 'string' ? v.contentHash : null;
    if (name !== null || hash !== null) return { name: name ?? '(unnamed)', hash };
  }
  return null;
}

/** Model and runtime names read from `custom_metadata.edgewatch` (tolerant of its exact shape). */
export function edgewatchNames(json: string | null): { champion: ModelNames | null; shadow: ModelNames | null; backend: string | null; agentVersion: string | null } {
  let cm: Record<string, unknown> = {};
  try {
    const parsed: unknown = json === null ? null : JSON.parse(json);
    if (parsed && typeof parsed === 'object') cm = parsed as Record<string, unknown>;
  } catch {
    cm = {};
  }
  const models = (cm.models && typeof cm.models === 'object' ? cm.models : {}) as Record<string, unknown>;
  const str = (...vs: unknown[]): string | null => (vs.find((v) => typeof v === 'string' && v !== '') as string | undefined) ?? null;
  return {
    champion: modelOf(cm.champion ?? models.champion ?? cm.championName),
    shadow: modelOf(cm.shadow ?? models.shadow ?? cm.shadowName),
    backend: str(cm.backend, (cm.champion as Record<string, unknown> | undefined)?.backend),
    agentVersion: str(cm.agentVersion, cm.agent_version, cm.version),
  };
}

function tally<T>(items: Iterable<T>, key: (t: T) => string | null): { name: string; count: number }[] {
  const m = new Map<string, number>();
  for (const it of items) {
    const k = key(it);
    if (k !== null) m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

/** Computes the statistics JSON of `GET /api/deployment/{id}/stats` from rows sorted by time. */
export function computeStats(rows: readonly StatsRow[], options: StatsOptions) {
  const n = rows.length;
  const compared = rows.filter((r) => r.hasShadow === 1);

  // Classes seen as top-1 by either model, ascending, with "(none)" (empty prediction) last.
  const ids = new Set<number>();
  let hasNone = false;
  for (const r of rows) {
    if (r.cc === null) hasNone = true;
    else ids.add(r.cc);
    if (r.hasShadow === 1) {
      if (r.sc === null) hasNone = true;
      else ids.add(r.sc);
    }
  }
  const classIds: (number | null)[] = [...ids].sort((a, b) => a - b);
  if (hasNone) classIds.push(null);
  const index = new Map<number | null, number>(classIds.map((c, i) => [c, i]));
  const classes = classIds.map((id) => ({ id, label: id === null ? '(none)' : (options.labels[id] ?? `class ${id}`) }));
  const zeros = () => classIds.map(() => 0);

  // Counts and names.
  const names = rows.map((r) => edgewatchNames(r.cm));
  const counts = {
    predictions: n,
    withShadow: compared.length,
    firstTimestamp: n === 0 ? null : (rows[0] as StatsRow).t,
    lastTimestamp: n === 0 ? null : (rows[n - 1] as StatsRow).t,
    sources: tally(rows, (r) => r.source),
    tags: tally(
      rows.flatMap((r) => JSON.parse(r.tags) as string[]),
      (t) => t,
    ),
  };
  const modelKey = (m: ModelNames | null) => (m === null ? null : m.hash ? `${m.name} · ${m.hash.slice(0, 12)}` : m.name);
  const models = {
    champion: tally(names, (x) => modelKey(x.champion)),
    shadow: tally(names, (x) => modelKey(x.shadow)),
    backends: tally(names, (x) => x.backend),
    agentVersions: tally(names, (x) => x.agentVersion),
  };

  // Latency.
  const champMs = rows.map((r) => r.lat * 1000);
  const shadowMs = compared.filter((r) => r.slat !== null).map((r) => (r.slat as number) * 1000);
  const champion = summarize(champMs);
  const shadow = summarize(shadowMs);
  let histogram: { edgesMs: number[]; champion: number[]; shadow: number[] } | null = null;
  if (champion !== null) {
    const lo = Math.min(champion.minMs, shadow?.minMs ?? Infinity);
    let hi = Math.max(champion.p99Ms, shadow?.p99Ms ?? -Infinity);
    if (hi <= lo) hi = lo + 1;
    const width = (hi - lo) / HISTOGRAM_BINS;
    const edgesMs = Array.from({ length: HISTOGRAM_BINS + 1 }, (_, i) => round(lo + i * width, 3));
    const bin = (v: number) => Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor((v - lo) / width)));
    const hc = new Array<number>(HISTOGRAM_BINS).fill(0);
    const hs = new Array<number>(HISTOGRAM_BINS).fill(0);
    for (const v of champMs) hc[bin(v)] = (hc[bin(v)] as number) + 1;
    for (const v of shadowMs) hs[bin(v)] = (hs[bin(v)] as number) + 1;
    histogram = { edgesMs, champion: hc, shadow: hs };
  }

  // Label distribution, agreement, confusion, mean scores.
  const champTotals = zeros();
  const shadowTotals = zeros();
  const champScoreSum = zeros();
  const shadowScoreSum = zeros();
  const matrix = classIds.map(() => zeros());
  let agreed = 0;
  for (const r of rows) {
    const ci = index.get(r.cc) as number;
    champTotals[ci] = (champTotals[ci] as number) + 1;
    champScoreSum[ci] = (champScoreSum[ci] as number) + (r.cs ?? 0);
    if (r.hasShadow === 1) {
      const si = index.get(r.sc) as number;
      shadowTotals[si] = (shadowTotals[si] as number) + 1;
      shadowScoreSum[si] = (shadowScoreSum[si] as number) + (r.ss ?? 0);
      const row = matrix[ci] as number[];
      row[si] = (row[si] as number) + 1;
      if (r.cc === r.sc) agreed += 1;
    }
  }
  const meanOf = (sums: number[], totals: number[]) => sums.map((s, i) => (classIds[i] === null || totals[i] === 0 ? null : round(s / (totals[i] as number))));

  // Timeline.
  const spanS = n === 0 ? 0 : Math.max((options.toS ?? (rows[n - 1] as StatsRow).t) - (options.fromS ?? (rows[0] as StatsRow).t), (rows[n - 1] as StatsRow).t - (rows[0] as StatsRow).t);
  let bucketSeconds = options.bucketSeconds ?? autoBucket(spanS);
  if (spanS / bucketSeconds > MAX_BUCKETS) bucketSeconds = autoBucket(spanS);
  const timeline = {
    bucketSeconds,
    t: [] as number[],
    traffic: [] as number[],
    withShadow: [] as number[],
    agreementRate: [] as (number | null)[],
    championLabels: classIds.map(() => [] as number[]),
    shadowLabels: classIds.map(() => [] as number[]),
  };
  if (n > 0) {
    const first = Math.floor((rows[0] as StatsRow).t / bucketSeconds) * bucketSeconds;
    const last = Math.floor((rows[n - 1] as StatsRow).t / bucketSeconds) * bucketSeconds;
    const buckets = Math.round((last - first) / bucketSeconds) + 1;
    const agreeCount = new Array<number>(buckets).fill(0);
    for (let b = 0; b < buckets; b++) {
      timeline.t.push(first + b * bucketSeconds);
      timeline.traffic.push(0);
      timeline.withShadow.push(0);
      for (const series of timeline.championLabels) series.push(0);
      for (const series of timeline.shadowLabels) series.push(0);
    }
    for (const r of rows) {
      const b = Math.round((Math.floor(r.t / bucketSeconds) * bucketSeconds - first) / bucketSeconds);
      timeline.traffic[b] = (timeline.traffic[b] as number) + 1;
      const cs = timeline.championLabels[index.get(r.cc) as number] as number[];
      cs[b] = (cs[b] as number) + 1;
      if (r.hasShadow === 1) {
        timeline.withShadow[b] = (timeline.withShadow[b] as number) + 1;
        const ss = timeline.shadowLabels[index.get(r.sc) as number] as number[];
        ss[b] = (ss[b] as number) + 1;
        if (r.cc === r.sc) agreeCount[b] = (agreeCount[b] as number) + 1;
      }
    }
    timeline.agreementRate = timeline.withShadow.map((w, b) => (w === 0 ? null : round((agreeCount[b] as number) / w)));
  }

  return {
    counts,
    models,
    classes,
    latency: { unit: 'ms', percentileMethod: 'nearest-rank', champion, shadow, histogram },
    labelDistribution: { champion: champTotals, shadow: shadowTotals },
    agreement: { compared: compared.length, agreed, rate: compared.length === 0 ? null : round(agreed / compared.length) },
    confusion: { rows: 'champion', columns: 'shadow', matrix },
    meanScore: { champion: meanOf(champScoreSum, champTotals), shadow: meanOf(shadowScoreSum, shadowTotals) },
    drift: driftOf(rows, classIds, classes, options.driftWindow ?? 200),
    timeline,
  };
}

/** Smallest window that gives a PSI worth reading. */
export const MIN_DRIFT_WINDOW = 10;

function driftOf(rows: readonly StatsRow[], classIds: (number | null)[], classes: { id: number | null; label: string }[], driftWindow: number) {
  const window = Math.min(driftWindow, Math.floor(rows.length / 2));
  const about = {
    metric: 'PSI',
    name: 'Population Stability Index of the champion top-1 label distribution, recent window vs reference window',
    formula: 'PSI = sum_i (r_i - b_i) * ln(r_i / b_i); b_i, r_i = class shares in the reference and recent windows, smoothed as (share + epsilon) / (1 + K * epsilon)',
    epsilon: PSI_EPSILON,
    thresholds: { stable: '< 0.1', moderate: '0.1 to < 0.25', significant: '>= 0.25' },
    windowSize: window,
  };
  if (window < MIN_DRIFT_WINDOW) {
    return { ...about, psi: null, status: 'insufficient-data', reason: `needs at least ${2 * MIN_DRIFT_WINDOW} predictions`, reference: null, recent: null, perClass: [] };
  }
  const ref = rows.slice(0, window);
  const rec = rows.slice(rows.length - window);
  const count = (part: readonly StatsRow[]) => {
    const c = classIds.map(() => 0);
    for (const r of part) {
      const i = classIds.indexOf(r.cc);
      c[i] = (c[i] as number) + 1;
    }
    return c;
  };
  // Only classes the champion predicted in either window take part (shadow-only classes would add zero terms anyway).
  const refCounts = count(ref);
  const recCounts = count(rec);
  const used = classIds.map((_, i) => i).filter((i) => (refCounts[i] as number) + (recCounts[i] as number) > 0);
  const { psi, terms } = populationStabilityIndex(
    used.map((i) => refCounts[i] as number),
    used.map((i) => recCounts[i] as number),
  );
  const span = (part: readonly StatsRow[]) => ({ from: (part[0] as StatsRow).t, to: (part[part.length - 1] as StatsRow).t, count: part.length });
  return {
    ...about,
    psi: round(psi),
    status: psiStatus(psi),
    reference: span(ref),
    recent: span(rec),
    perClass: used.map((i, j) => ({
      id: classes[i]?.id ?? null,
      label: classes[i]?.label ?? '',
      referenceShare: round((refCounts[i] as number) / window),
      recentShare: round((recCounts[i] as number) / window),
      term: round(terms[j] as number),
    })),
  };
}

/** The statistics JSON (without the deployment and filter echo). */
export type Stats = ReturnType<typeof computeStats>;
