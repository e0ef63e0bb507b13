/**
 * Replies of the SDK's `get_stats` services, from merged buckets. Every reply has `service`, `window`, `count` and one
 * `models` entry per model version and role (champion, shadow) seen in the window; `model_id` keeps the entries of
 * that version. Counts come as `stored` (predictions received) and `estimated` (weighted by 1 / sampling probability).
 */
import type { DeploymentInfo } from '../config.js';
import { HttpError } from '../http-util.js';
import { kolmogorovSmirnov, populationStabilityIndex, psiStatus } from './drift.js';
import { agreementOf, classesOf, classTallies, labelOf, latencySummary, round } from './fold.js';
import { coverWindow, RESOLUTION_S } from './levels.js';
import type { AggregateReader, CountsRow, Dim, PairRow } from './reader.js';
import { NO_CLASS, NO_SHADOW, ROLE, SCORE_BINS } from './schema.js';
import { classSelection, type SdkQuery } from './sdk-query.js';
import { dimsOf, resolveWindow, type ResolvedWindow } from './window.js';

type Role = 'champion' | 'shadow';
interface Entry {
  role: Role;
  modelId: string | null;
  dims: Set<number>;
}

const roleCode = (r: Role) => (r === 'champion' ? ROLE.champion : ROLE.shadow);

/** One entry per (role, version) with predictions in the window, champion first. */
function entriesOf(dims: readonly Dim[], counts: readonly CountsRow[], modelId: string | undefined): Entry[] {
  const byDim = new Map(counts.map((c) => [c.dimId, c]));
  const out = new Map<string, Entry>();
  for (const d of dims) {
    const c = byDim.get(d.id);
    if (c === undefined) continue;
    for (const role of ['champion', 'shadow'] as const) {
      if ((role === 'champion' ? c.n : c.shadowN) <= 0) continue;
      const version = (role === 'champion' ? d.championVersion : d.shadowVersion) || null;
      if (modelId !== undefined && version !== modelId) continue;
      const key = `${role}|${version ?? ''}`;
      const e = out.get(key) ?? { role, modelId: version, dims: new Set<number>() };
      e.dims.add(d.id);
      out.set(key, e);
    }
  }
  return [...out.values()].sort((a, b) => (a.role === b.role ? (a.modelId ?? '').localeCompare(b.modelId ?? '') : a.role === 'champion' ? -1 : 1));
}

function countOf(counts: readonly CountsRow[], dims: ReadonlySet<number>, role: Role) {
  let stored = 0;
  let estimated = 0;
  for (const c of counts) {
    if (!dims.has(c.dimId)) continue;
    stored += role === 'champion' ? c.n : c.shadowN;
    estimated += role === 'champion' ? c.w : c.shadowW;
  }
  return { stored, estimated: round(estimated) };
}

function snakeLatency(l: ReturnType<typeof latencySummary>) {
  return l === null ? null : { unit: 'ms', relative_error: l.relativeError, mean: l.meanMs, min: l.minMs, p50: l.p50Ms, p90: l.p90Ms, p95: l.p95Ms, p99: l.p99Ms, max: l.maxMs };
}

function classRows(pairs: readonly PairRow[], e: Entry, labels: readonly string[], keep: ((id: number | null) => boolean) | null) {
  const tallies = classTallies(pairs, roleCode(e.role), e.dims);
  const total = [...tallies.values()].reduce((s, t) => s + t.w, 0);
  return [...tallies]
    .filter(([id, t]) => t.n > 0 && (keep === null || keep(id)))
    .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : a - b))
    .map(([id, t]) => ({ class_id: id, label: labelOf(labels, id), stored: t.n, estimated: round(t.w), share: total <= 0 ? null : round(t.w / total), mean_score: id === null || t.w <= 0 ? null : round(t.scoreW / t.w) }));
}

function windowEcho(win: ResolvedWindow) {
  return { from: win.open.from ? null : win.startS, to: win.open.to ? null : win.endS, resolution_seconds: RESOLUTION_S };
}

async function ksDrift(reader: AggregateReader, ids: number[], entries: Entry[], win: ResolvedWindow, counts: readonly CountsRow[]) {
  // Current = the window; reference = the window of the same length just before it. An open window (no from/to,
  // or one side open) is split in two halves of the data's span, in whole minutes.
  const tMin = Math.min(...counts.map((c) => c.tMin ?? Infinity));
  const tMax = Math.max(...counts.map((c) => c.tMax ?? -Infinity));
  let ref: [number, number];
  let cur: [number, number];
  if (!Number.isFinite(tMin)) return { reference: null, current: null, method: null };
  if (!win.open.from && !win.open.to) {
    cur = [win.startS, win.endS];
    ref = [win.startS - (win.endS - win.startS), win.startS];
  } else {
    const a = win.open.from ? Math.floor(tMin / RESOLUTION_S) * RESOLUTION_S : win.startS;
    const b = win.open.to ? Math.floor(tMax / RESOLUTION_S) * RESOLUTION_S + RESOLUTION_S : win.endS;
    const mid = a + Math.floor((b - a) / 2 / RESOLUTION_S) * RESOLUTION_S;
    ref = [a, mid];
    cur = [mid, b];
  }
  const read = async ([a, b]: [number, number]) => {
    const ranges = coverWindow(a, b);
    const [c, p, s] = await Promise.all([reader.counts(ids, ranges), reader.pairs(ids, ranges), reader.scores(ids, ranges)]);
    return { counts: c, pairs: p, scores: s, from: a, to: b };
  };
  const [r, c] = await Promise.all([read(ref), read(cur)]);
  const histogram = (part: typeof r, e: Entry) => {
    const h = new Array<number>(SCORE_BINS).fill(0);
    let n = 0;
    for (const s of part.scores) {
      if (s.role !== roleCode(e.role) || !e.dims.has(s.dimId)) continue;
      h[s.bin] = (h[s.bin] as number) + s.w;
      n += s.n;
    }
    return { h, n };
  };
  const models = entries.map((e) => {
    const hr = histogram(r, e);
    const hc = histogram(c, e);
    const ks = kolmogorovSmirnov(hr.h, hc.h, hr.n, hc.n);
    const classes = classesOf([...r.pairs, ...c.pairs]);
    const tr = classTallies(r.pairs, roleCode(e.role), e.dims);
    const tc = classTallies(c.pairs, roleCode(e.role), e.dims);
    const refCounts = classes.map((id) => tr.get(id)?.w ?? 0);
    const curCounts = classes.map((id) => tc.get(id)?.w ?? 0);
    const hasBoth = refCounts.some((x) => x > 0) && curCounts.some((x) => x > 0);
    const psi = hasBoth ? populationStabilityIndex(refCounts, curCounts).psi : null;
    return {
      role: e.role,
      model_id: e.modelId,
      reference: countOf(r.counts, e.dims, e.role),
      current: countOf(c.counts, e.dims, e.role),
      score_ks: { statistic: Number.isNaN(ks.statistic) ? null : round(ks.statistic), p_value: ks.pValue === null ? null : round(ks.pValue), scores_with_top1: { reference: hr.n, current: hc.n } },
      label_psi: { psi: psi === null ? null : round(psi), status: psi === null ? 'insufficient-data' : psiStatus(psi) },
    };
  });
  return {
    reference: { from: ref[0], to: ref[1] },
    current: { from: cur[0], to: cur[1] },
    method: `two-sample Kolmogorov-Smirnov on the top-1 score, read on ${SCORE_BINS} bins of 0.01 (D is at most one bin's mass below the exact D), asymptotic p-value; PSI of the top-1 label distribution (epsilon 1e-4). Reference: the window of the same length just before the current one; for an open window, the first half of the data's span.`,
    models,
  };
}

/** Services of `…/predictions/stats` whose meaning involves ground truth (the SDK's `REVIEWS_*` services): their replies carry reviews. */
export const REVIEW_SERVICES: readonly string[] = ['classification', 'label_distribution', 'object_detection'];

/** Paired traffic of one model-version pair in the window: the strata that reviews are weighted by (`sdk-reviews.ts`). */
export interface TrafficStratum {
  champion_model_id: string | null;
  shadow_model_id: string | null;
  /** Same top-1 for both models, different top-1, or no shadow prediction. */
  kind: 'agreement' | 'disagreement' | 'unpaired';
  stored: number;
  estimated: number;
}

/** The window's predictions per model-version pair and stratum, from the merged pair rows of `dims`. */
function strataOf(dims: readonly Dim[], pairs: readonly PairRow[]): TrafficStratum[] {
  const byDim = new Map(dims.map((d) => [d.id, d]));
  const out = new Map<string, TrafficStratum>();
  for (const p of pairs) {
    const d = byDim.get(p.dimId);
    if (d === undefined || p.n <= 0) continue;
    const kind = p.shadowClass === NO_SHADOW ? 'unpaired' : p.shadowClass === p.championClass ? 'agreement' : 'disagreement';
    const champion = d.championVersion || null;
    const shadow = kind === 'unpaired' ? null : d.shadowVersion || null;
    const key = `${champion ?? ''}|${shadow ?? ''}|${kind}`;
    const s = out.get(key) ?? { champion_model_id: champion, shadow_model_id: shadow, kind, stored: 0, estimated: 0 };
    s.stored += p.n;
    s.estimated = round(s.estimated + p.w);
    out.set(key, s);
  }
  return [...out.values()];
}

/** The reply of one `get_stats` call. */
export async function computeSdkStats(reader: AggregateReader, deployment: DeploymentInfo, q: SdkQuery) {
  if (q.service === 'classification' && deployment.type !== 'CLASSIFICATION') {
    throw new HttpError(422, `Invalid stats query: service classification needs a CLASSIFICATION deployment; ${deployment.name} is ${deployment.type}: use object_detection.`, { field: 'service' });
  }
  if (q.service === 'object_detection' && deployment.type === 'CLASSIFICATION') {
    throw new HttpError(422, `Invalid stats query: service object_detection needs an OBJECT_DETECTION or SEGMENTATION deployment; ${deployment.name} is CLASSIFICATION: use classification or label_distribution.`, { field: 'service' });
  }
  const keep = classSelection(q, deployment.labels);
  const dims = await dimsOf(reader, { deploymentId: deployment.id, tags: q.tags });
  const ids = dims.map((d) => d.id);
  const win = resolveWindow({ fromS: q.fromS, toS: q.toS });
  const counts = await reader.counts(ids, win.ranges);
  const known = q.modelId === undefined || q.modelId === deployment.championVersionId || q.modelId === deployment.shadowVersionId || dims.some((d) => d.championVersion === q.modelId || d.shadowVersion === q.modelId);
  if (!known) {
    throw new HttpError(404, `Model version ${q.modelId} is not a model of deployment ${deployment.name}: it is neither its champion nor its shadow, and no stored prediction is credited to it.`, { field: 'model_id' });
  }
  const entries = entriesOf(dims, counts, q.modelId);
  const inModel = new Set(entries.flatMap((e) => [...e.dims]));
  const head = {
    service: q.service,
    endpoint: q.endpoint === 'aggregated' ? 'stats' : 'predictions/stats',
    deployment_id: deployment.id,
    filters: { model_id: q.modelId ?? null, from_timestamp: q.fromS ?? null, to_timestamp: q.toS ?? null, since: q.sinceS ?? null, tags: q.tags, includes: q.includes, excludes: q.excludes },
    window: windowEcho(win),
    count: countOf(counts, q.modelId === undefined ? new Set(ids) : inModel, 'champion'),
  };
  const pick = (e: Entry) => ({ role: e.role, model_id: e.modelId, count: countOf(counts, e.dims, e.role) });

  if (q.service === 'ks_drift') return { ...head, ...(await ksDrift(reader, ids, entries, win, counts)) };
  if (q.service === 'metrics') {
    const [latency, pairs] = await Promise.all([reader.latency(ids, win.ranges), reader.pairs(ids, win.ranges)]);
    return {
      ...head,
      models: entries.map((e) => {
        const t = classTallies(pairs, roleCode(e.role), e.dims);
        const scored = [...t].filter(([id]) => id !== null).reduce((s, [, x]) => ({ w: s.w + x.w, sw: s.sw + x.scoreW }), { w: 0, sw: 0 });
        const empty = t.get(null);
        return {
          ...pick(e),
          latency: snakeLatency(latencySummary(counts, latency, roleCode(e.role), e.dims)),
          mean_top1_score: scored.w <= 0 ? null : round(scored.sw / scored.w),
          empty_predictions: { stored: empty?.n ?? 0, estimated: round(empty?.w ?? 0) },
        };
      }),
    };
  }
  const pairs = await reader.pairs(ids, win.ranges);
  if (q.endpoint === 'predictions' && REVIEW_SERVICES.includes(q.service)) Object.assign(head, { traffic: strataOf(dims, pairs) });
  if (q.service === 'label_distribution') {
    return { ...head, models: entries.map((e) => ({ ...pick(e), labels: classRows(pairs, e, deployment.labels, keep).map(({ mean_score: _m, ...rest }) => rest) })) };
  }
  if (q.service === 'classification') {
    const classIds = classesOf(pairs).filter((id) => keep === null || keep(id));
    const index = new Map(classIds.map((c, i) => [c, i]));
    const matrix = classIds.map(() => classIds.map(() => 0));
    for (const p of pairs) {
      if (p.shadowClass === NO_SHADOW || !inModel.has(p.dimId)) continue;
      const ci = index.get(p.championClass === NO_CLASS ? null : p.championClass);
      const si = index.get(p.shadowClass === NO_CLASS ? null : p.shadowClass);
      if (ci !== undefined && si !== undefined) (matrix[ci] as number[])[si] = round(((matrix[ci] as number[])[si] as number) + p.w);
    }
    return {
      ...head,
      models: entries.map((e) => {
        const a = agreementOf(pairs, e.dims);
        return { ...pick(e), classes: classRows(pairs, e, deployment.labels, keep), agreement_with_other_model: { compared: a.compared, agreed: a.agreed, rate: a.rate } };
      }),
      confusion: { rows: 'champion', columns: 'shadow', classes: classIds.map((id) => ({ class_id: id, label: labelOf(deployment.labels, id) })), matrix },
    };
  }
  // object_detection
  const objects = await reader.objects(ids, win.ranges);
  return {
    ...head,
    models: entries.map((e) => {
      const images = countOf(counts, e.dims, e.role);
      const empty = classTallies(pairs, roleCode(e.role), e.dims).get(null);
      const byClass = new Map<number, { n: number; w: number; scoreW: number }>();
      for (const o of objects) {
        if (o.role !== roleCode(e.role) || !e.dims.has(o.dimId) || (keep !== null && !keep(o.classId))) continue;
        const x = byClass.get(o.classId) ?? { n: 0, w: 0, scoreW: 0 };
        x.n += o.n;
        x.w += o.w;
        x.scoreW += o.scoreW;
        byClass.set(o.classId, x);
      }
      const total = [...byClass.values()].reduce((s, x) => s + x.w, 0);
      return {
        ...pick(e),
        images,
        images_without_objects: { stored: empty?.n ?? 0, estimated: round(empty?.w ?? 0) },
        objects: { stored: [...byClass.values()].reduce((s, x) => s + x.n, 0), estimated: round(total) },
        objects_per_image: images.estimated <= 0 ? null : round(total / images.estimated),
        classes: [...byClass]
          .filter(([, x]) => x.n > 0)
          .sort(([a], [b]) => a - b)
          .map(([id, x]) => ({ class_id: id, label: labelOf(deployment.labels, id), objects_stored: x.n, objects_estimated: round(x.w), share: total <= 0 ? null : round(x.w / total), mean_score: x.w <= 0 ? null : round(x.scoreW / x.w) })),
      };
    }),
  };
}
