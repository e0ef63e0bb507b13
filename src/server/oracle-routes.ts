/** Monitoring ("oracle") half of the protocol: login, monitor (validate, check image, store), late shadow, deployment info. */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DeploymentInfo } from './config.js';
import { deploymentOr404, issueOracleJwt, requireJwt, requireReader, requireSameDeployment, type ServerContext } from './context.js';
import { diskLowError, isDiskFull } from './disk-guard.js';
import { HttpError, allow, decodeSegment, decodedSegment, malformedSegment, parseJson, readBody } from './http-util.js';
import { samplingProbability } from './aggregates/contribution.js';
import { parseSdkQuery } from './aggregates/sdk-query.js';
import { withReviews } from './aggregates/sdk-reviews.js';
import { statsRunnerOf } from './aggregates/stats-runner.js';
import { checkImage } from './image-check.js';
import { parseMonitorJson } from './monitor-json.js';
import { predictionBoundsProblems, type PredictionLimits } from './prediction-bounds.js';
import { describeIssues, loginBodySchema, monitorBodySchema, shadowBodySchema, type MonitorBody, type ParsedPrediction } from './prediction-schema.js';
import { safeEqual } from './safe-equal.js';
import type { StoredPrediction } from './store.js';
import type { z } from 'zod';

type Reply = { status: number; body: unknown; headers?: Record<string, string> };

/** Milliseconds of the monitor call's phases, answered as `Server-Timing` (what a load test needs to attribute a slow call). */
type Phases = Record<'read' | 'parse' | 'lookup' | 'check' | 'image' | 'db', number>;

function serverTiming(phases: Phases): string {
  return Object.entries(phases).map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`).join(', ');
}

/** `work`'s result, its duration (ms) added to `phases[name]`. */
async function timed<T>(phases: Phases, name: keyof Phases, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    phases[name] += performance.now() - t0;
  }
}

/** Top-1 of a prediction: the class with the highest score, null when the prediction is empty. */
export function topOne(p: ParsedPrediction): { classId: number | null; score: number | null } {
  let best = -1;
  p.detection_scores.forEach((s, i) => {
    if (best === -1 || s > (p.detection_scores[best] as number)) best = i;
  });
  return best === -1 ? { classId: null, score: null } : { classId: p.detection_classes[best] ?? null, score: p.detection_scores[best] ?? null };
}

/** A 422 listing `problems` (`{field, message}` each), `field` naming the first. */
function unprocessable(what: string, problems: readonly { field: string; message: string }[]): HttpError {
  const first = problems[0] as { field: string };
  return new HttpError(422, `Invalid ${what}: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, { field: first.field, errors: problems });
}

/** Out-of-range scores, class ids, boxes and polygons of the champion and shadow predictions. */
function boundsProblems(deployment: DeploymentInfo, size: { width: number; height: number }, predictions: Record<string, ParsedPrediction | null | undefined>) {
  const limits: PredictionLimits = { width: size.width, height: size.height, labelCount: deployment.labels.length };
  return Object.entries(predictions).flatMap(([key, p]) => (p == null ? [] : predictionBoundsProblems(p, key, limits)));
}

function invalid(error: z.ZodError, input: unknown, what: string): HttpError {
  return unprocessable(what, describeIssues(error, input));
}

/** Largest login body read (the call is unauthenticated): the same cap as the dashboard sign-in. */
export const LOGIN_MAX_BYTES = 64 * 1024;

async function readJson(ctx: ServerContext, req: IncomingMessage, maxBytes = ctx.config.maxBodyBytes): Promise<unknown> {
  return parseJson(await readBody(req, maxBytes));
}

/** 503 with Retry-After when the disk is below the floor; the body is read first so that the client, still sending, gets the reply. */
async function requireDiskSpace(ctx: ServerContext, req: IncomingMessage): Promise<void> {
  try {
    await ctx.disk.requireSpace();
  } catch (err) {
    await readBody(req, ctx.config.maxBodyBytes).catch(() => undefined);
    throw err;
  }
}

/** `write()`'s result, with a full disk answered 503 (the agent retries) rather than 500 (it would give the prediction up). */
async function storeOr503<T>(write: () => T | Promise<T>, what: string): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isDiskFull(err)) throw diskLowError(`no space left to write ${what}`);
    throw err;
  }
}

async function login(ctx: ServerContext, req: IncomingMessage): Promise<Reply> {
  const input = await readJson(ctx, req, LOGIN_MAX_BYTES);
  const parsed = loginBodySchema.safeParse(input);
  if (!parsed.success) throw invalid(parsed.error, input, 'login body');
  if (!safeEqual(parsed.data.api_token, ctx.token)) throw new HttpError(401, 'Invalid API token.');
  deploymentOr404(ctx, parsed.data.deployment_id);
  return { status: 200, body: issueOracleJwt(ctx, parsed.data.deployment_id) };
}

/** `custom_metadata.edgewatch.imageId` when the sender gives one, else the SHA-256 of the image bytes. */
function imageKeyOf(customMetadata: Record<string, unknown> | null | undefined, bytes: Buffer): string {
  const ew = customMetadata?.edgewatch;
  const id = ew && typeof ew === 'object' ? (ew as Record<string, unknown>).imageId : undefined;
  return typeof id === 'string' && id !== '' ? `id:${id}` : `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function conflict(existingId: string): HttpError {
  return new HttpError(409, `This image was already monitored for this deployment (prediction ${existingId}).`, { id: existingId });
}

async function monitor(ctx: ServerContext, req: IncomingMessage, deployment: DeploymentInfo): Promise<Reply> {
  const phases: Phases = { read: 0, parse: 0, lookup: 0, check: 0, image: 0, db: 0 };
  const raw = await timed(phases, 'read', () => readBody(req, ctx.config.maxBodyBytes));
  const parseStart = performance.now();
  const json = parseJson(raw, parseMonitorJson);
  const parsed = monitorBodySchema(deployment.type).safeParse(json);
  if (!parsed.success) throw invalid(parsed.error, json, 'prediction');
  const body = parsed.data;
  const outOfRange = boundsProblems(deployment, body, { raw_predictions: body.raw_predictions, shadow_raw_predictions: body.shadow_raw_predictions });
  if (outOfRange.length > 0) throw unprocessable('prediction', outOfRange);
  const sampling = samplingProbability(body.custom_metadata);
  if ('problem' in sampling) throw unprocessable('prediction', [{ field: 'custom_metadata.edgewatch.sampling.probability', message: sampling.problem }]);
  const bytes = body.image;
  if (bytes.length === 0) throw unprocessable('prediction', [{ field: 'image', message: 'decodes to zero bytes' }]);
  const imageKey = imageKeyOf(body.custom_metadata, bytes);
  phases.parse = performance.now() - parseStart;
  const existing = await timed(phases, 'lookup', () => ctx.store.findByImageKey(deployment.id, imageKey));
  const id = randomUUID();
  const receivedS = Date.now() / 1000;
  // The image is checked and, unless already stored, written to the datalake at the same time (most
  // requests are good ones); a bad image answers 422 before 409. Whatever fails after the write (a bad
  // image, a lost race, a failed insert), the file is removed again: never a file without its row.
  const [checked, written] = await Promise.allSettled([
    timed(phases, 'check', () => checkImage(bytes, body.content_type, body.width, body.height, ctx.config.maxPixels)),
    existing === undefined
      ? timed(phases, 'image', () => storeOr503(() => ctx.datalake.write(deployment.name, id, body.content_type === 'IMAGE/PNG' ? 'png' : 'jpg', bytes, new Date(receivedS * 1000)), 'the image'))
      : Promise.resolve(undefined),
  ]);
  const imagePath = written.status === 'fulfilled' ? written.value : undefined;
  try {
    if (checked.status === 'rejected') throw checked.reason;
    if (checked.value.length > 0) throw unprocessable('prediction', checked.value);
    if (written.status === 'rejected') throw written.reason;
    if (existing !== undefined || imagePath === undefined) throw conflict(existing ?? '');
    const reply = await timed(phases, 'db', () => storeRow(ctx, deployment, body, { id, imageKey, imagePath, receivedS }));
    return { ...reply, headers: { 'server-timing': serverTiming(phases) } };
  } catch (err) {
    if (imagePath !== undefined) await ctx.datalake.remove(imagePath);
    throw err;
  }
}

/** Inserts the prediction whose image is stored at `imagePath`; throws (409, 503...) when it is not inserted. */
async function storeRow(
  ctx: ServerContext,
  deployment: DeploymentInfo,
  body: MonitorBody,
  stored: { id: string; imageKey: string; imagePath: string; receivedS: number },
): Promise<Reply> {
  const { id, imageKey, imagePath, receivedS } = stored;
  const bytes = body.image;
  const champion = topOne(body.raw_predictions);
  const shadow = body.shadow_raw_predictions == null ? null : topOne(body.shadow_raw_predictions);
  const row: StoredPrediction = {
    id,
    deploymentId: deployment.id,
    imageKey,
    filename: body.filename,
    contentType: body.content_type,
    width: body.width,
    height: body.height,
    imagePath,
    imageBytes: bytes.length,
    champion: body.raw_predictions,
    championClass: champion.classId,
    championScore: champion.score,
    latencyS: body.latency,
    shadow: body.shadow_raw_predictions ?? null,
    shadowClass: shadow?.classId ?? null,
    shadowScore: shadow?.score ?? null,
    shadowLatencyS: shadow === null ? null : (body.shadow_latency as number),
    source: body.source ?? 'serving',
    tags: body.tags ?? [],
    metadata: body.metadata ?? null,
    customMetadata: body.custom_metadata ?? null,
    timestampS: body.timestamp ?? receivedS,
    receivedS,
    championVersionId: deployment.championVersionId ?? null,
    shadowVersionId: shadow === null ? null : (deployment.shadowVersionId ?? null),
  };
  const result = await storeOr503(() => ctx.store.insert(row), 'the prediction');
  if (!result.inserted) throw conflict(result.existingId);
  return { status: 201, body: { id } };
}

async function lateShadow(ctx: ServerContext, req: IncomingMessage, rawPredictionId: string): Promise<Reply> {
  const claims = requireJwt(ctx, req);
  const predictionId = decodedSegment(rawPredictionId);
  await requireDiskSpace(ctx, req);
  const prediction = await ctx.store.get(predictionId);
  if (prediction === undefined) throw new HttpError(404, `Prediction ${predictionId} does not exist.`);
  requireSameDeployment(claims, prediction.deploymentId);
  const deployment = deploymentOr404(ctx, prediction.deploymentId);
  const input = await readJson(ctx, req);
  const parsed = shadowBodySchema(deployment.type).safeParse(input);
  if (!parsed.success) throw invalid(parsed.error, input, 'shadow prediction');
  const outOfRange = boundsProblems(deployment, prediction, { shadow_raw_predictions: parsed.data.shadow_raw_predictions });
  if (outOfRange.length > 0) throw unprocessable('shadow prediction', outOfRange);
  if (prediction.shadow !== null) throw new HttpError(409, `Prediction ${predictionId} already has a shadow prediction.`, { id: predictionId });
  const top = topOne(parsed.data.shadow_raw_predictions);
  if (!(await storeOr503(() => ctx.store.setShadow(predictionId, parsed.data.shadow_raw_predictions, top.classId, top.score, parsed.data.shadow_latency, deployment.shadowVersionId ?? null), 'the shadow prediction'))) {
    throw new HttpError(409, `Prediction ${predictionId} already has a shadow prediction.`, { id: predictionId });
  }
  return { status: 201, body: { id: predictionId } };
}

/** Handles an oracle route, or returns null when `url` is not one. */
export async function handleOracle(ctx: ServerContext, req: IncomingMessage, url: URL): Promise<Reply | null> {
  const path = url.pathname;
  if (path === '/api/auth/login') {
    allow(req, 'POST');
    return login(ctx, req);
  }
  let m = /^\/api\/deployment\/([^/]+)\/predictions$/.exec(path);
  if (m && req.method === 'POST') {
    const claims = requireJwt(ctx, req);
    const deployment = deploymentOr404(ctx, decodedSegment(m[1] as string));
    requireSameDeployment(claims, deployment.id);
    await requireDiskSpace(ctx, req);
    return monitor(ctx, req, deployment);
  }
  m = /^\/api\/prediction\/([^/]+)\/shadow$/.exec(path);
  if (m) {
    allow(req, 'POST');
    return lateShadow(ctx, req, m[1] as string);
  }
  // The SDK's get_stats: `…/predictions/stats`, and `…/stats` when it names a `service` (without one, `…/stats` is the dashboard's document).
  m = /^\/api\/deployment\/([^/]+)\/(stats|predictions\/stats)$/.exec(path);
  if (m && (m[2] === 'predictions/stats' || url.searchParams.has('service'))) {
    allow(req, 'GET');
    const id = decodeSegment(m[1] as string);
    requireReader(ctx, req, id);
    if (id === null) throw malformedSegment();
    const d = deploymentOr404(ctx, id);
    const query = parseSdkQuery(url, m[2] === 'stats' ? 'aggregated' : 'predictions', Date.now() / 1000);
    return { status: 200, body: await withReviews(ctx, d, query, await statsRunnerOf(ctx.store).sdk(d, query)) };
  }
  m = /^\/api\/deployment\/([^/]+)$/.exec(path);
  if (m) {
    allow(req, 'GET');
    // Credentials first: a malformed id answers 400 only to a client that may read.
    const id = decodeSegment(m[1] as string);
    requireReader(ctx, req, id);
    if (id === null) throw malformedSegment();
    const d = deploymentOr404(ctx, id);
    const org = ctx.organizations.find((o) => o.id === d.organizationId);
    return {
      status: 200,
      body: { id: d.id, name: d.name, type: d.type, labels: d.labels, organization_id: d.organizationId, organization_name: org?.name ?? null, predictions: await ctx.store.count(d.id) },
    };
  }
  return null;
}
