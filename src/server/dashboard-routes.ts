/** Read side for the dashboard and API clients: stats, gallery, stored images, overview, session sign-in, and the static page. */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { deploymentOr404, requireReader, sessionCookie, type ServerContext } from './context.js';
import { randomBytes } from 'node:crypto';
import { HttpError, allow, decodeSegment, epochSecondsParam, malformedSegment, parseJson, readBody } from './http-util.js';
import { safeEqual } from './safe-equal.js';
import { statsRunnerOf } from './aggregates/stats-runner.js';
import { edgewatchNames } from './stats.js';
import type { PredictionFilter, StoredPrediction } from './store.js';
import type { StaticFile } from './static-files.js';

/** A reply: JSON body, or raw bytes with a content type. */
export type DashboardReply = { status: number; body: unknown; headers?: Record<string, string> } | { status: number; raw: Buffer; contentType: string; headers?: Record<string, string> };

/** Security headers of the page: same-origin scripts, styles and images only. */
export const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function timeParam(url: URL, name: string): number | undefined {
  const t = epochSecondsParam(url, name);
  if (Number.isNaN(t)) throw new HttpError(422, `Invalid query: ${name} must be epoch seconds or an ISO date.`, { field: name });
  return t;
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function bucketParam(url: URL): number | undefined {
  const raw = url.searchParams.get('bucket');
  if (raw === null || raw === '' || raw === 'auto') return undefined;
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(raw);
  const seconds = m ? Number(m[1]) * (UNIT_S[m[2] || 's'] as number) : Number.NaN;
  if (!(seconds >= 1)) throw new HttpError(422, 'Invalid query: bucket must be a number of seconds (>= 1) or 30s/5m/1h/1d.', { field: 'bucket' });
  return seconds;
}

function intParam(url: URL, name: string, def: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(422, `Invalid query: ${name} must be an integer from ${min} to ${max}.`, { field: name });
  return n;
}

function filterOf(url: URL, deploymentId: string): PredictionFilter {
  const f: PredictionFilter = { deploymentId };
  const from = timeParam(url, 'from');
  const to = timeParam(url, 'to');
  if (from !== undefined) f.fromS = from;
  if (to !== undefined) f.toS = to;
  const source = url.searchParams.get('source');
  const tag = url.searchParams.get('tag');
  if (source) f.source = source;
  if (tag) f.tag = tag;
  return f;
}

async function stats(ctx: ServerContext, url: URL, id: string): Promise<DashboardReply> {
  const d = deploymentOr404(ctx, id);
  const filter = filterOf(url, d.id);
  const bucketSeconds = bucketParam(url);
  const driftWindow = intParam(url, 'drift_window', 200, 10, 100_000);
  const body = await statsRunnerOf(ctx.store).dashboard(
    { deploymentId: d.id, fromS: filter.fromS, toS: filter.toS, source: filter.source, tags: filter.tag === undefined ? undefined : [filter.tag] },
    { labels: [...d.labels], driftWindow, bucketSeconds },
  );
  return {
    status: 200,
    body: {
      deployment: { id: d.id, name: d.name, type: d.type, labels: d.labels },
      filters: { from: filter.fromS ?? null, to: filter.toS ?? null, source: filter.source ?? null, tag: filter.tag ?? null, driftWindow },
      generatedAt: Date.now() / 1000,
      ...body,
    },
  };
}

function galleryItem(p: StoredPrediction, labels: readonly string[]) {
  const label = (c: number | null) => (c === null ? '(none)' : (labels[c] ?? `class ${c}`));
  const names = edgewatchNames(p.customMetadata?.edgewatch === undefined ? null : JSON.stringify(p.customMetadata.edgewatch));
  return {
    id: p.id,
    filename: p.filename,
    contentType: p.contentType,
    width: p.width,
    height: p.height,
    timestamp: p.timestampS,
    receivedAt: p.receivedS,
    source: p.source,
    tags: p.tags,
    imageUrl: `/api/image/${p.id}`,
    champion: { classId: p.championClass, label: label(p.championClass), score: p.championScore, latencyMs: p.latencyS * 1000, model: names.champion?.name ?? null },
    shadow: p.shadow === null ? null : { classId: p.shadowClass, label: label(p.shadowClass), score: p.shadowScore, latencyMs: (p.shadowLatencyS ?? 0) * 1000, model: names.shadow?.name ?? null },
    agree: p.shadow === null ? null : p.championClass === p.shadowClass,
    backend: names.backend,
  };
}

async function gallery(ctx: ServerContext, url: URL, id: string): Promise<DashboardReply> {
  const d = deploymentOr404(ctx, id);
  const limit = intParam(url, 'limit', 24, 1, 500);
  const order = url.searchParams.get('order') ?? 'latest';
  if (order !== 'latest' && order !== 'disagreements-first') throw new HttpError(422, 'Invalid query: order must be latest or disagreements-first.', { field: 'order' });
  const items = (await ctx.store.latest(filterOf(url, d.id), limit, order === 'disagreements-first')).map((p) => galleryItem(p, d.labels));
  return { status: 200, body: { deployment: { id: d.id, name: d.name }, order, items } };
}

async function image(ctx: ServerContext, req: IncomingMessage, predictionId: string): Promise<DashboardReply> {
  const p = await ctx.store.get(predictionId);
  if (p === undefined) throw new HttpError(404, 'No such image.');
  requireReader(ctx, req, p.deploymentId);
  const file = ctx.datalake.resolve(p.imagePath);
  if (file === null) throw new HttpError(404, 'No such image.');
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch {
    throw new HttpError(404, 'The image file is no longer in the datalake.');
  }
  return { status: 200, raw, contentType: p.contentType.toLowerCase(), headers: { 'cache-control': 'private, max-age=86400, immutable', 'content-security-policy': "default-src 'none'" } };
}

async function overview(ctx: ServerContext): Promise<DashboardReply> {
  return {
    status: 200,
    body: {
      organizations: await Promise.all(
        ctx.organizations.map(async (o) => ({
          id: o.id,
          name: o.name,
          deployments: await Promise.all(o.deployments.map(async (d) => ({ id: d.id, name: d.name, type: d.type, labels: d.labels, predictions: await ctx.store.count(d.id) }))),
        })),
      ),
    },
  };
}

/** `POST /api/dashboard/session` with `{"token"}` (the API token) or `{"key"}` (the login-link key): sets the session cookie. */
async function signIn(ctx: ServerContext, req: IncomingMessage): Promise<DashboardReply> {
  const body = parseJson(await readBody(req, 64 * 1024)) as { token?: unknown; key?: unknown } | null;
  const token = typeof body?.token === 'string' ? body.token : null;
  const key = typeof body?.key === 'string' ? body.key : null;
  const byToken = token !== null && safeEqual(token, ctx.token);
  const byKey = !byToken && key !== null && safeEqual(key, ctx.dashboardKey);
  if (!byToken && !byKey) throw new HttpError(401, 'Wrong token or expired link.');
  // The login link signs in once: a link left in a terminal's scroll-back or a browser history is worth nothing after.
  if (byKey) ctx.dashboardKey = randomBytes(18).toString('base64url');
  return { status: 200, body: { ok: true, write: byToken }, headers: { 'set-cookie': sessionCookie(ctx, byToken) } };
}

/** Handles a dashboard route or static file, or returns null. */
export async function handleDashboard(ctx: ServerContext, req: IncomingMessage, url: URL, files: ReadonlyMap<string, StaticFile>): Promise<DashboardReply | null> {
  const path = url.pathname;
  if (path === '/api/dashboard/session') {
    allow(req, 'POST');
    return signIn(ctx, req);
  }
  if (path === '/api/dashboard/overview') {
    allow(req, 'GET');
    requireReader(ctx, req, null);
    return overview(ctx);
  }
  let m = /^\/api\/deployment\/([^/]+)\/(stats|predictions)$/.exec(path);
  if (m) {
    allow(req, 'GET');
    // Credentials first: a malformed id answers 400 only to a client that may read.
    const id = decodeSegment(m[1] as string);
    requireReader(ctx, req, id);
    if (id === null) throw malformedSegment();
    return m[2] === 'stats' ? stats(ctx, url, id) : gallery(ctx, url, id);
  }
  m = /^\/api\/image\/([0-9a-f-]{36})$/.exec(path);
  if (m) {
    allow(req, 'GET', 'HEAD');
    return image(ctx, req, m[1] as string);
  }
  const file = files.get(path);
  if (file !== undefined) {
    allow(req, 'GET', 'HEAD');
    return { status: 200, raw: file.body, contentType: file.contentType, headers: { ...PAGE_HEADERS, 'cache-control': 'no-cache' } };
  }
  return null;
}
