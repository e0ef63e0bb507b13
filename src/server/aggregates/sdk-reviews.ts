/**
 * Ground truth in the SDK's `REVIEWS_*` services (`…/predictions/stats` with `classification`, `label_distribution`,
 * `object_detection`): the window's reviewed predictions, read per request (bounded, on the reviews' deployment index),
 * folded per model entry of the aggregates' reply. Each review is weighted so that the estimates stand for the window's
 * traffic: the traffic splits into strata per model-version pair (top-1 agreements, disagreements, predictions without a
 * shadow) whose sizes come from the aggregates; the review queue draws disagreements first, so a review weighs
 * (its stratum's estimated size) × (1 / its sampling probability) / (the same sum over its stratum's reviews).
 */
import type { DeploymentInfo } from '../config.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http-util.js';
import type { ReviewedPrediction } from '../reviews/review-store.js';
import { wilson } from '../verdict/interval-math.js';
import { isRight, labelName } from '../verdict/verdict-counts.js';
import { round } from './fold.js';
import { classSelection, type SdkQuery } from './sdk-query.js';
import { REVIEW_SERVICES, type TrafficStratum } from './sdk-stats.js';
import { resolveWindow } from './window.js';

/**
 * Reviewed predictions read per request at most; a window with more answers 422 (narrow it). Measured at the bound
 * (20,000 reviews among 200,000 predictions, SQLite, 2 busy cores): 130-180 ms per call, the longest event-loop stretch
 * 2.5-9.6 ms (median 2.8 ms).
 */
export const SDK_REVIEWS_LIMIT = 20_000;
/** Rows per page: a page and its folding hold the event loop a few milliseconds (SQLite's reads are synchronous). */
const PAGE_ROWS = 250;

const NONE = '(none)';

export const REVIEWS_METHOD =
  'Reviews are the ground truth of both models. Each reviewed prediction weighs (estimated predictions of its stratum in the window) x (1 / its sampling probability) / (sum of that over the reviews of its stratum); strata: per champion/shadow model-version pair, top-1 agreements, disagreements, and predictions without a shadow. Accuracy is the weighted share of reviews whose top-1 label the review names (an empty prediction is right when the review names nothing), over the strata that have reviews (covers = their share of the model\'s traffic); its 95 % interval is Wilson\'s on the Kish effective number of reviews. Precision and recall per label use the same weights; confusion counts are reviews (unweighted).';

interface ModelEntry {
  role: 'champion' | 'shadow';
  model_id: string | null;
  [key: string]: unknown;
}

/** Reviews that weigh the same for every model: same versions, classes, labels and sampling weight; `n` of them. */
interface Group {
  r: ReviewedPrediction;
  n: number;
  sampling: number;
}

interface Weighted {
  r: ReviewedPrediction;
  /** Reviews in the group, each weighing `weight`. */
  n: number;
  weight: number;
  predicted: string;
  truth: readonly string[];
  right: boolean;
}

function kindOf(r: ReviewedPrediction): TrafficStratum['kind'] {
  return !r.paired ? 'unpaired' : r.championClass === r.shadowClass ? 'agreement' : 'disagreement';
}

function stratumKey(champion: string | null, shadow: string | null, kind: TrafficStratum['kind']): string {
  return `${champion ?? ''}|${kind === 'unpaired' ? '' : (shadow ?? '')}|${kind}`;
}

function samplingWeight(p: unknown): number {
  return typeof p === 'number' && p > 0 && p <= 1 ? 1 / p : 1;
}

/** The reviews of one model entry, weighted by stratum. */
function weightedReviews(entry: ModelEntry, reviewed: readonly Group[], traffic: readonly TrafficStratum[], nameOf: (classId: number | null, version: string | null) => string | null) {
  const mine = reviewed.filter(({ r }) => (entry.role === 'champion' ? r.championVersionId === entry.model_id : r.paired && r.shadowVersionId === entry.model_id));
  const strata = traffic.filter((s) => (entry.role === 'champion' ? s.champion_model_id === entry.model_id : s.kind !== 'unpaired' && s.shadow_model_id === entry.model_id));
  const size = new Map(strata.map((s) => [stratumKey(s.champion_model_id, s.shadow_model_id, s.kind), s.estimated]));
  const sums = new Map<string, number>();
  for (const { r, n, sampling } of mine) {
    const k = stratumKey(r.championVersionId, r.shadowVersionId, kindOf(r));
    sums.set(k, (sums.get(k) ?? 0) + n * sampling);
  }
  const out: Weighted[] = mine.map(({ r, n: count, sampling }) => {
    const k = stratumKey(r.championVersionId, r.shadowVersionId, kindOf(r));
    const sum = sums.get(k) as number;
    // A stratum the aggregates do not show (a review racing the read): its reviews stand for themselves.
    const stratumSize = Math.max(size.get(k) ?? 0, sum);
    const classId = entry.role === 'champion' ? r.championClass : r.shadowClass;
    const predicted = nameOf(classId, entry.model_id);
    return { r, n: count, weight: (stratumSize * sampling) / sum, predicted: predicted ?? NONE, truth: r.labels, right: isRight(predicted, r.labels) };
  });
  const total = strata.reduce((t, s) => t + s.estimated, 0);
  const covered = [...sums.keys()].reduce((t, k) => t + Math.max(size.get(k) ?? 0, sums.get(k) as number), 0);
  return { reviews: out, covers: total <= 0 ? null : round(Math.min(1, covered / total)) };
}

function accuracyOf(ws: readonly Weighted[], covers: number | null) {
  const sw = ws.reduce((t, w) => t + w.n * w.weight, 0);
  if (ws.length === 0 || sw <= 0) return null;
  const sw2 = ws.reduce((t, w) => t + w.n * w.weight * w.weight, 0);
  const estimate = ws.reduce((t, w) => t + (w.right ? w.n * w.weight : 0), 0) / sw;
  const effective = (sw * sw) / sw2;
  const ci = wilson(estimate, effective);
  return { estimate: round(estimate), low: round(ci.low), high: round(ci.high), effective_reviews: round(effective, 2), covers };
}

/** Per label: reviews predicting it, reviews naming it, both (counts), and weighted precision and recall. */
function classRowsOf(ws: readonly Weighted[], labelId: (name: string) => number | null, keep: ((id: number | null) => boolean) | null) {
  const rows = new Map<string, { predicted: number; actual: number; tp: number; wPredicted: number; wActual: number; wTp: number }>();
  const row = (label: string) => {
    let x = rows.get(label);
    if (x === undefined) rows.set(label, (x = { predicted: 0, actual: 0, tp: 0, wPredicted: 0, wActual: 0, wTp: 0 }));
    return x;
  };
  for (const w of ws) {
    const truth = w.truth.length === 0 ? [NONE] : w.truth;
    const p = row(w.predicted);
    p.predicted += w.n;
    p.wPredicted += w.n * w.weight;
    for (const t of new Set(truth)) {
      const a = row(t);
      a.actual += w.n;
      a.wActual += w.n * w.weight;
      if (t === w.predicted) (a.tp += w.n), (a.wTp += w.n * w.weight);
    }
  }
  return [...rows]
    .map(([label, x]) => ({ label, class_id: label === NONE ? null : labelId(label), ...x }))
    .filter((x) => keep === null || (x.label === NONE ? keep(null) : x.class_id !== null && keep(x.class_id)))
    .sort((a, b) => (a.class_id ?? Infinity) - (b.class_id ?? Infinity) || a.label.localeCompare(b.label))
    .map((x) => ({
      label: x.label,
      class_id: x.class_id,
      predicted: x.predicted,
      reviewed_as: x.actual,
      true_positives: x.tp,
      precision: x.wPredicted <= 0 ? null : round(x.wTp / x.wPredicted),
      recall: x.wActual <= 0 ? null : round(x.wTp / x.wActual),
    }));
}

/** Reviews (rows: the review's label) × predictions (columns: the model's top-1 label); a review naming the prediction counts on the diagonal. */
function confusionOf(ws: readonly Weighted[], labels: readonly string[]) {
  const index = new Map(labels.map((l, i) => [l, i]));
  const matrix = labels.map(() => labels.map(() => 0));
  for (const w of ws) {
    const truth = w.truth.length === 0 ? NONE : w.truth.includes(w.predicted) ? w.predicted : (w.truth[0] as string);
    const i = index.get(truth);
    const j = index.get(w.predicted);
    if (i !== undefined && j !== undefined) (matrix[i] as number[])[j] = ((matrix[i] as number[])[j] as number) + w.n;
  }
  return { rows: 'review', columns: 'prediction', labels, matrix };
}

/** `body` (the aggregates' reply) with reviews added when `q` is a `REVIEWS_*` service; other replies unchanged. */
export async function withReviews(ctx: Pick<ServerContext, 'registry'>, d: DeploymentInfo, q: SdkQuery, body: unknown, limit = SDK_REVIEWS_LIMIT, pageRows = PAGE_ROWS): Promise<unknown> {
  if (q.endpoint !== 'predictions' || !REVIEW_SERVICES.includes(q.service)) return body;
  const reply = body as { models: ModelEntry[]; traffic?: TrafficStratum[] };
  const win = resolveWindow({ fromS: q.fromS, toS: q.toS });
  const groups = new Map<string, Group>();
  let read = 0;
  let count = 0;
  for (let afterId = ''; ; ) {
    const page = await ctx.registry.reviews.reviewedPage(d.id, { fromS: win.startS, toS: win.endS }, afterId, pageRows);
    read += page.length;
    if (read > limit) {
      throw new HttpError(422, `Invalid stats query: this window holds more than ${limit} reviewed predictions, more than one stats call reads: narrow it with from_timestamp and to_timestamp, or since.`, { field: 'from_timestamp' });
    }
    for (const r of page) {
      if (q.tags.length > 0 && !q.tags.some((t) => r.tags.includes(t))) continue;
      const sampling = samplingWeight(r.samplingProbability);
      const key = JSON.stringify([r.championVersionId, r.shadowVersionId, r.paired, r.championClass, r.shadowClass, sampling, r.labels]);
      const g = groups.get(key);
      if (g === undefined) groups.set(key, { r, n: 1, sampling });
      else g.n += 1;
      count += 1;
    }
    if (page.length < pageRows) break;
    afterId = (page[page.length - 1] as ReviewedPrediction).predictionId;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const reviewed = [...groups.values()];
  const versionIds = new Set<string>();
  for (const { r } of reviewed) for (const v of [r.championVersionId, r.shadowVersionId]) if (v !== null) versionIds.add(v);
  for (const m of reply.models) if (m.model_id !== null) versionIds.add(m.model_id);
  const versionLabels = new Map<string, Record<string, string> | null>();
  for (const id of versionIds) versionLabels.set(id, (await ctx.registry.models.getVersion(id))?.labels ?? null);
  const nameOf = (classId: number | null, version: string | null) => labelName(classId, d.labels, [version === null ? null : versionLabels.get(version)]);
  const labelId = (name: string): number | null => {
    const i = d.labels.indexOf(name);
    if (i !== -1) return i;
    for (const map of versionLabels.values()) for (const [k, v] of Object.entries(map ?? {})) if (v === name && /^\d+$/.test(k)) return Number(k);
    return null;
  };
  const keep = classSelection(q, d.labels);
  const traffic = reply.traffic ?? [];
  const models = reply.models.map((entry) => {
    const { reviews: ws, covers } = weightedReviews(entry, reviewed, traffic, nameOf);
    const reviewedN = ws.reduce((t, w) => t + w.n, 0);
    const base = { reviewed: reviewedN, right: ws.reduce((t, w) => t + (w.right ? w.n : 0), 0) };
    if (q.service === 'object_detection') {
      return { ...entry, reviews: { reviewed: reviewedN, note: 'box-level matching of reviewed rectangles and polygons is not computed: only the number of reviewed images is given' } };
    }
    const accuracy = accuracyOf(ws, covers);
    if (q.service === 'label_distribution') {
      const total = ws.reduce((t, w) => t + w.n * w.weight, 0);
      const rows = classRowsOf(ws, labelId, keep).map((x) => ({ label: x.label, class_id: x.class_id, reviewed_as: x.reviewed_as, predicted: x.predicted }));
      const share = (label: string) => (total <= 0 ? null : round(ws.filter((w) => (w.truth.length === 0 ? [NONE] : w.truth).includes(label)).reduce((t, w) => t + w.n * w.weight, 0) / total));
      return { ...entry, reviews: { ...base, accuracy, labels: rows.map((x) => ({ ...x, share: share(x.label) })) } };
    }
    const classes = classRowsOf(ws, labelId, keep);
    return { ...entry, reviews: { ...base, accuracy, classes, confusion: confusionOf(ws, classes.map((c) => c.label)) } };
  });
  return { ...reply, models, reviews: { count, limit, method: REVIEWS_METHOD } };
}
