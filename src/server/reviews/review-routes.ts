/**
 * Predicted assets and reviews of the platform (`Deployment.list_predicted_assets/find_predicted_asset`,
 * `PredictedAsset.sync/add_review`) and the verdict (`GET /api/deployment/{id}/verdict`, edgewatch's own).
 * Reads take any reader credential (API token, oracle JWT of the deployment, dashboard session); a review takes the
 * API token or a writing dashboard session.
 */
import type { IncomingMessage } from 'node:http';
import type { DeploymentInfo } from '../config.js';
import { SESSION_COOKIE, deploymentOr404, requireReader, type ServerContext } from '../context.js';
import { HttpError, allow, bearerOf, cookieOf, parseJson, readBody } from '../http-util.js';
import { verifyJwt } from '../jwt.js';
import { baseUrl } from '../platform-routes.js';
import { segment } from '../registry/registry-routes.js';
import { WRITER_SESSION_SUB, requireWriter } from '../registry/write-access.js';
import { safeEqual } from '../safe-equal.js';
import type { StoredPrediction } from '../store.js';
import { countReviews, labelName } from '../verdict/verdict-counts.js';
import { computeVerdict } from '../verdict/verdict.js';
import { assetJson } from './asset-json.js';
import { checkReview } from './review-body.js';
import type { AssetQuery } from './review-store.js';

type Reply = { status: number; body: unknown };

const ORDERS: Record<string, AssetQuery['order']> = { created_at: 'created_at', '-created_at': '-created_at', disagreements_first: 'disagreements_first' };

function intQuery(url: URL, name: string, def: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new HttpError(422, `Invalid query: ${name} must be an integer from 0 to ${max}.`, { field: name });
  return n;
}

function boolQuery(url: URL, name: string): boolean | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  if (raw !== 'true' && raw !== 'false') throw new HttpError(422, `Invalid query: ${name} must be true or false.`, { field: name });
  return raw === 'true';
}

/** Labels of the model versions in `ids` (read once each), looked up synchronously afterwards. */
async function labelsLookup(ctx: ServerContext, ids: Iterable<string | null | undefined>): Promise<(id: string | null | undefined) => Record<string, string> | null> {
  const cache = new Map<string, Record<string, string> | null>();
  for (const id of new Set(ids)) if (id != null) cache.set(id, (await ctx.registry.models.getVersion(id))?.labels ?? null);
  return (id) => (id == null ? null : (cache.get(id) ?? null));
}

/** The stored predictions of `ids`, in that order (those deleted meanwhile left out). */
async function predictionsOf(ctx: ServerContext, ids: readonly string[]): Promise<StoredPrediction[]> {
  if (ctx.store.getMany !== undefined) {
    const byId = new Map((await ctx.store.getMany(ids)).map((p) => [p.id, p] as const));
    return ids.map((id) => byId.get(id)).filter((p): p is StoredPrediction => p !== undefined);
  }
  return (await Promise.all(ids.map((id) => ctx.store.get(id)))).filter((p): p is StoredPrediction => p !== undefined);
}

async function assetsJson(ctx: ServerContext, req: IncomingMessage, d: DeploymentInfo, predictions: StoredPrediction[]) {
  const periods = await ctx.registry.models.periods(d.id);
  const labelsOf = await labelsLookup(ctx, [...periods.flatMap((x) => [x.championVersionId, x.shadowVersionId]), ...predictions.flatMap((p) => [p.championVersionId, p.shadowVersionId])]);
  const base = baseUrl(ctx, req);
  const reviews = await ctx.registry.reviews.getMany(predictions.map((p) => p.id));
  return predictions.map((p) => assetJson(p, { deployment: d, periods, review: reviews.get(p.id), presignedUrl: ctx.registry.signer.downloadUrl(base, p.imagePath), labelsOf }));
}

async function list(ctx: ServerContext, req: IncomingMessage, url: URL, d: DeploymentInfo): Promise<Reply> {
  const orderRaw = url.searchParams.getAll('order_by')[0] ?? '-created_at';
  const order = ORDERS[orderRaw];
  if (order === undefined) throw new HttpError(422, `Invalid query: order_by must be one of ${Object.keys(ORDERS).join(', ')}.`, { field: 'order_by' });
  const status = url.searchParams.get('review_status');
  if (status !== null && status !== 'REVIEWED' && status !== 'TO_REVIEW') throw new HttpError(422, 'Invalid query: review_status must be REVIEWED or TO_REVIEW.', { field: 'review_status' });
  const period = url.searchParams.get('period');
  if (period !== null && period !== 'current' && period !== 'all') throw new HttpError(422, 'Invalid query: period must be current or all.', { field: 'period' });
  const agreement = boolQuery(url, 'agreement');
  const paired = boolQuery(url, 'paired');
  const q = url.searchParams.get('q');
  const limit = intQuery(url, 'limit', 100, 1000);
  const offset = intQuery(url, 'offset', 0, 1_000_000_000);
  const current = await ctx.registry.models.currentPeriod(d.id);
  const versions = { champion: d.championVersionId ?? null, shadow: d.shadowVersionId ?? null };
  // The dashboard's review queue, every few seconds: answered from the trigger-kept counters, never a scan of the traffic.
  const isQueue = period === 'current' && status === 'TO_REVIEW' && order === 'disagreements_first' && paired === true && agreement === undefined && (q === null || q === '') && offset === 0;
  const { ids, count } = isQueue
    ? await ctx.registry.reviews.queuePage(d.id, { seq: current?.seq ?? 0, sinceS: current?.sinceS ?? 0 }, versions, limit)
    : await ctx.registry.reviews.listIds({
        deploymentId: d.id,
        sinceS: period === 'current' ? (current?.sinceS ?? 0) : undefined,
        ranBy: period === 'current' ? versions : undefined,
        reviewed: status === null ? undefined : status === 'REVIEWED',
        disagreement: agreement === undefined ? undefined : !agreement,
        paired,
        search: q === null || q === '' ? undefined : q,
        order,
        limit,
        offset,
      });
  return { status: 200, body: { items: await assetsJson(ctx, req, d, await predictionsOf(ctx, ids)), count } };
}

async function find(ctx: ServerContext, req: IncomingMessage, url: URL, d: DeploymentInfo): Promise<Reply> {
  const byId = url.searchParams.get('id') ?? url.searchParams.get('oracle_prediction_id') ?? url.searchParams.get('data_id');
  const filename = url.searchParams.get('filename');
  const objectName = url.searchParams.get('object_name');
  let p: StoredPrediction | undefined;
  if (byId !== null) p = await ctx.store.get(byId);
  else if (filename !== null || objectName !== null) {
    const { ids } = await ctx.registry.reviews.listIds({ deploymentId: d.id, filename: filename ?? undefined, order: '-created_at', limit: 1000, offset: 0 });
    p = (await predictionsOf(ctx, ids)).find((x) => objectName === null || x.imagePath === objectName);
  } else throw new HttpError(400, 'Give ?id=, ?oracle_prediction_id=, ?data_id=, ?filename= or ?object_name=.');
  if (p === undefined || p.deploymentId !== d.id) throw new HttpError(404, `No predicted asset of deployment ${d.name} matches.`);
  return { status: 200, body: (await assetsJson(ctx, req, d, [p]))[0] };
}

/** Label names a review may use: the deployment's, and those of its champion and shadow versions. */
export async function allowedLabels(ctx: ServerContext, d: DeploymentInfo): Promise<string[]> {
  const names = new Set(d.labels);
  for (const id of [d.championVersionId, d.shadowVersionId]) {
    const labels = id == null ? null : (await ctx.registry.models.getVersion(id))?.labels;
    for (const name of Object.values(labels ?? {})) names.add(name);
  }
  return [...names];
}

async function review(ctx: ServerContext, req: IncomingMessage, p: StoredPrediction, d: DeploymentInfo): Promise<Reply> {
  const checked = checkReview(parseJson(await readBody(req, 1024 * 1024)), await allowedLabels(ctx, d), p);
  if (!checked.ok) {
    const first = checked.problems[0] as { field: string };
    throw new HttpError(422, `Invalid review: ${checked.problems.map((x) => `${x.field} ${x.message}`).join('; ')}`, { field: first.field, errors: checked.problems });
  }
  const body = Object.fromEntries(Object.entries(checked.body).filter(([, v]) => v !== undefined));
  const stored = await ctx.registry.reviews.add(p.id, d.id, body, checked.labels);
  if (stored === undefined) {
    if ((await ctx.store.get(p.id)) === undefined) throw new HttpError(404, `Predicted asset ${p.id} does not exist any more.`);
    throw new HttpError(409, `Predicted asset ${p.id} is already reviewed: a review cannot be changed.`);
  }
  return { status: 201, body: { id: stored.id, predicted_asset_id: p.id, created_at: new Date(stored.createdS * 1000).toISOString(), ...body } };
}

/**
 * The verdict of a comparison period: the current one (since the last champion/shadow change), or `periodSeq` (an
 * earlier one, e.g. the period a promotion ended), judged with that period's pair.
 */
export async function verdictOf(ctx: ServerContext, d: DeploymentInfo, periodSeq?: number) {
  const periods = await ctx.registry.models.periods(d.id);
  const index = periodSeq === undefined ? periods.length - 1 : periods.findIndex((x) => x.seq === periodSeq);
  if (periodSeq !== undefined && index === -1) throw new HttpError(404, `Deployment ${d.name} has no comparison period ${periodSeq}.`);
  const period = periods[index];
  const sinceS = period?.sinceS ?? 0;
  const untilS = periods[index + 1]?.sinceS;
  const versions = period === undefined ? { champion: d.championVersionId ?? null, shadow: d.shadowVersionId ?? null } : { champion: period.championVersionId, shadow: period.shadowVersionId };
  const labelsOf = await labelsLookup(ctx, [versions.champion, versions.shadow]);
  const maps = [labelsOf(versions.champion), labelsOf(versions.shadow)];
  const reviewed = (await ctx.registry.reviews.reviewedPairs(d.id, { sinceS, untilS }, versions)).map((r) => ({
    champion: labelName(r.championClass, d.labels, maps),
    shadow: labelName(r.shadowClass, d.labels, maps),
    truth: r.labels,
  }));
  const verdict = computeVerdict(countReviews(await ctx.registry.reviews.periodTraffic(d.id, period?.seq ?? 0), reviewed));
  const describe = async (id: string | null | undefined) => {
    const v = id == null ? undefined : await ctx.registry.models.getVersion(id);
    return v === undefined ? null : { id: v.id, model: v.modelName, name: v.name, version: v.version };
  };
  const supported = d.type === 'CLASSIFICATION';
  return {
    deployment: { id: d.id, name: d.name, type: d.type },
    period: { seq: period?.seq ?? 0, since: sinceS, until: untilS ?? null, reason: period?.reason ?? null, champion: await describe(versions.champion), shadow: await describe(versions.shadow) },
    /** Every comparison period, oldest first (`?period=<seq>` gives the verdict of one). */
    periods: periods.map((x) => ({ seq: x.seq, since: x.sinceS, reason: x.reason, championVersionId: x.championVersionId, shadowVersionId: x.shadowVersionId })),
    /** Top-1 labels only judge classification: other deployments' reviews are stored and served, not turned into a verdict. */
    supported,
    /** Label names a review may use, in key order (1–9 in the dashboard). */
    labels: await allowedLabels(ctx, d),
    ...verdict,
    ...(supported ? {} : { settled: false, better: null, moreReviewsNeeded: null, sentence: `no verdict: reviews of ${d.type} deployments are stored, the verdict covers classification deployments only` }),
  };
}

/** Whether the caller may write: the API token, or a dashboard session opened with it (the page shows or hides its actions). */
function access(ctx: ServerContext, req: IncomingMessage): Reply {
  requireReader(ctx, req, null);
  const bearer = bearerOf(req);
  const session = cookieOf(req, SESSION_COOKIE);
  const write = bearer !== null ? safeEqual(bearer, ctx.token) : session !== null && verifyJwt(session, ctx.jwtSecret)?.sub === WRITER_SESSION_SUB;
  return { status: 200, body: { write } };
}

/** Handles a predicted-asset, review or verdict route, or returns null. */
export async function handleReviews(ctx: ServerContext, req: IncomingMessage, url: URL): Promise<Reply | null> {
  const path = url.pathname;
  if (path === '/api/dashboard/access') {
    allow(req, 'GET');
    return access(ctx, req);
  }
  let m = /^\/api\/deployment\/([^/]+)\/(predictedassets|predictedassets\/find|verdict)$/.exec(path);
  if (m) {
    allow(req, 'GET');
    requireReader(ctx, req, null);
    const id = segment(m[1]);
    requireReader(ctx, req, id);
    const d = deploymentOr404(ctx, id);
    if (m[2] === 'verdict') {
      const raw = url.searchParams.get('period');
      if (raw !== null && raw !== '' && !/^\d{1,12}$/.test(raw)) throw new HttpError(422, 'Invalid query: period must be the seq of a comparison period (see periods).', { field: 'period' });
      return { status: 200, body: await verdictOf(ctx, d, raw === null || raw === '' ? undefined : Number(raw)) };
    }
    return m[2] === 'predictedassets' ? list(ctx, req, url, d) : find(ctx, req, url, d);
  }
  m = /^\/api\/predicted\/asset\/([^/]+)(\/reviews)?$/.exec(path);
  if (m) {
    if (m[2] === undefined) allow(req, 'GET');
    else allow(req, 'POST');
    // Credentials first, then the path is decoded (a malformed %-encoding is 401 without them, 400 with them).
    if (m[2] === undefined) requireReader(ctx, req, null);
    else requireWriter(ctx, req);
    const p = await ctx.store.get(segment(m[1]));
    if (m[2] === undefined) {
      if (p === undefined) throw new HttpError(404, `Predicted asset ${m[1]} does not exist.`);
      requireReader(ctx, req, p.deploymentId);
      const d = deploymentOr404(ctx, p.deploymentId);
      return { status: 200, body: (await assetsJson(ctx, req, d, [p]))[0] };
    }
    if (p === undefined) throw new HttpError(404, `Predicted asset ${m[1]} does not exist.`);
    return review(ctx, req, p, deploymentOr404(ctx, p.deploymentId));
  }
  return null;
}
