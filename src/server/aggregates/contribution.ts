/** What one stored prediction adds to the aggregates: its dimension key and its rows, weighted by 1 / sampling probability. */
import { modelLabel, readEdgewatchNames } from '../edgewatch-names.js';
import { NO_CLASS, NO_SHADOW, ROLE, SCORE_BINS } from './schema.js';
import { latencyBin } from './sketch.js';

/** The fields of a stored prediction the aggregates read. */
export interface AggregateInput {
  deploymentId: string;
  timestampS: number;
  championClass: number | null;
  championScore: number | null;
  latencyS: number;
  /** The champion's raw prediction (its detections count for object detection). */
  champion: unknown;
  shadow: unknown | null;
  shadowClass: number | null;
  shadowScore: number | null;
  shadowLatencyS: number | null;
  source: string;
  tags: readonly string[];
  customMetadata: Record<string, unknown> | null;
  championVersionId?: string | null | undefined;
  shadowVersionId?: string | null | undefined;
}

/**
 * Dimension of a prediction: what filters can select. '' = none. Every prediction also adds to its deployment's
 * roll-up dimension for its model versions (`tagsJson` = `ROLLUP`, source and names '*'), which unfiltered reads use
 * so that their cost does not grow with the number of sources and tag sets.
 */
export interface DimKey {
  deploymentId: string;
  championVersion: string;
  shadowVersion: string;
  source: string;
  tagsJson: string;
  namesJson: string;
}

/** Rows (without dim, level and bucket) one prediction adds. `sign` −1 takes a prediction out again (a late shadow replaces it). */
export interface Contribution {
  dim: DimKey;
  timestampS: number;
  counts: { n: number; w: number; shadowN: number; shadowW: number; latSumW: number; shadowLatSumW: number; latMin: number | null; latMax: number | null; shadowLatMin: number | null; shadowLatMax: number | null; tMin: number | null; tMax: number | null };
  pair: { championClass: number; shadowClass: number; n: number; w: number; championScoreW: number; shadowScoreW: number };
  latency: { role: number; bin: number; n: number; w: number }[];
  scores: { role: number; bin: number; n: number; w: number }[];
  objects: { role: number; classId: number; n: number; w: number; scoreW: number }[];
}

/** `tags_json` of a roll-up dimension (no JSON array is this). */
export const ROLLUP = '*';

/** The roll-up dimension of `d`: same deployment and model versions, every source, tag set and name. */
export function rollupOf(d: DimKey): DimKey {
  return { deploymentId: d.deploymentId, championVersion: d.championVersion, shadowVersion: d.shadowVersion, source: ROLLUP, tagsJson: ROLLUP, namesJson: ROLLUP };
}

/**
 * Exact dimensions one deployment may have (source × tag set × reported names × versions). Beyond it, a new
 * combination is counted under its versions' overflow dimension (source and tag `(other)`): totals and unfiltered
 * reads stay exact, a source or tag filter misses what overflowed. It keeps the per-read dimension list bounded when
 * an agent tags every image differently.
 */
export const MAX_DIMS_PER_DEPLOYMENT = 10_000;
/** Source and tag of the overflow dimensions. */
export const OVERFLOW = '(other)';

/** The overflow dimension of `d`: same deployment and model versions. */
export function overflowOf(d: DimKey): DimKey {
  return { deploymentId: d.deploymentId, championVersion: d.championVersion, shadowVersion: d.shadowVersion, source: OVERFLOW, tagsJson: JSON.stringify([OVERFLOW]), namesJson: JSON.stringify({ champion: null, shadow: null, backend: null, agentVersion: null }) };
}

/** The `custom_metadata.edgewatch.sampling.probability` of a prediction: absent → 1; otherwise it must be in (0, 1]. */
export function samplingProbability(customMetadata: Record<string, unknown> | null | undefined): { probability: number } | { problem: string } {
  const ew = customMetadata?.edgewatch;
  const sampling = ew && typeof ew === 'object' ? (ew as Record<string, unknown>).sampling : undefined;
  if (sampling === undefined || sampling === null) return { probability: 1 };
  const p = typeof sampling === 'object' ? (sampling as Record<string, unknown>).probability : undefined;
  if (p === undefined || p === null) return { probability: 1 };
  if (typeof p !== 'number' || !(p > 0 && p <= 1)) return { problem: 'must be a number greater than 0 and at most 1 (the share of images the agent sends)' };
  return { probability: p };
}

/** Weight of a prediction in the aggregates: 1 / its sampling probability (1 when absent or invalid). */
export function sampleWeight(customMetadata: Record<string, unknown> | null | undefined): number {
  const s = samplingProbability(customMetadata);
  return 'probability' in s ? 1 / s.probability : 1;
}

/** Model and runtime names from `custom_metadata.edgewatch`: the dashboard's "models" tallies. */
export function reportedNames(customMetadata: Record<string, unknown> | null | undefined): { champion: string | null; shadow: string | null; backend: string | null; agentVersion: string | null } {
  const n = readEdgewatchNames(customMetadata?.edgewatch);
  return { champion: modelLabel(n.champion), shadow: modelLabel(n.shadow), backend: n.backend, agentVersion: n.agentVersion };
}

function scoreBin(score: number): number {
  return Math.min(SCORE_BINS - 1, Math.max(0, Math.floor(score * SCORE_BINS)));
}

function detections(raw: unknown): { classes: number[]; scores: number[] } | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = raw as Record<string, unknown>;
  if (!Array.isArray(r.detection_boxes) && !Array.isArray(r.detection_masks)) return null;
  return { classes: Array.isArray(r.detection_classes) ? (r.detection_classes as number[]) : [], scores: Array.isArray(r.detection_scores) ? (r.detection_scores as number[]) : [] };
}

function objectsOf(raw: unknown, role: number, w: number, sign: number): Contribution['objects'] {
  const d = detections(raw);
  if (d === null) return [];
  const byClass = new Map<number, { n: number; scoreSum: number }>();
  d.classes.forEach((c, i) => {
    const e = byClass.get(c) ?? { n: 0, scoreSum: 0 };
    e.n += 1;
    e.scoreSum += d.scores[i] ?? 0;
    byClass.set(c, e);
  });
  return [...byClass].map(([classId, e]) => ({ role, classId, n: sign * e.n, w: sign * e.n * w, scoreW: sign * e.scoreSum * w }));
}

/** The rows `p` adds (sign 1) or takes back (sign −1). */
export function contributionOf(p: AggregateInput, sign: 1 | -1 = 1): Contribution {
  const w = sampleWeight(p.customMetadata);
  const sw = sign * w;
  const hasShadow = p.shadow !== null && p.shadow !== undefined;
  const latMs = p.latencyS * 1000;
  const shadowLatMs = hasShadow && p.shadowLatencyS !== null ? p.shadowLatencyS * 1000 : null;
  const tags = [...new Set(p.tags)].sort();
  const keep = sign === 1;
  const latency: Contribution['latency'] = [{ role: ROLE.champion, bin: latencyBin(latMs), n: sign, w: sw }];
  if (shadowLatMs !== null) latency.push({ role: ROLE.shadow, bin: latencyBin(shadowLatMs), n: sign, w: sw });
  const scores: Contribution['scores'] = [];
  if (p.championScore !== null) scores.push({ role: ROLE.champion, bin: scoreBin(p.championScore), n: sign, w: sw });
  if (hasShadow && p.shadowScore !== null) scores.push({ role: ROLE.shadow, bin: scoreBin(p.shadowScore), n: sign, w: sw });
  return {
    dim: {
      deploymentId: p.deploymentId,
      championVersion: p.championVersionId ?? '',
      shadowVersion: hasShadow ? (p.shadowVersionId ?? '') : '',
      source: p.source,
      tagsJson: JSON.stringify(tags),
      namesJson: JSON.stringify(reportedNames(p.customMetadata)),
    },
    timestampS: p.timestampS,
    counts: {
      n: sign,
      w: sw,
      shadowN: hasShadow ? sign : 0,
      shadowW: hasShadow ? sw : 0,
      latSumW: sw * latMs,
      shadowLatSumW: shadowLatMs === null ? 0 : sw * shadowLatMs,
      latMin: keep ? latMs : null,
      latMax: keep ? latMs : null,
      shadowLatMin: keep ? shadowLatMs : null,
      shadowLatMax: keep ? shadowLatMs : null,
      tMin: keep ? p.timestampS : null,
      tMax: keep ? p.timestampS : null,
    },
    pair: {
      championClass: p.championClass ?? NO_CLASS,
      shadowClass: hasShadow ? (p.shadowClass ?? NO_CLASS) : NO_SHADOW,
      n: sign,
      w: sw,
      championScoreW: sw * (p.championScore ?? 0),
      shadowScoreW: hasShadow ? sw * (p.shadowScore ?? 0) : 0,
    },
    latency,
    scores,
    objects: [...objectsOf(p.champion, ROLE.champion, w, sign), ...(hasShadow ? objectsOf(p.shadow, ROLE.shadow, w, sign) : [])],
  };
}
