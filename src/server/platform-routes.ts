/** Platform half of the Picsellia protocol (DESIGN.md §2 steps 1–4): ping, organization and deployment look-ups, API-token auth. */
import type { IncomingMessage } from 'node:http';
import type { DeploymentInfo, OrganizationInfo } from './config.js';
import { ORACLE_PREFIX, deploymentOr404, requireApiToken, type ServerContext } from './context.js';
import { HttpError, allow, bearerOf, decodedSegment } from './http-util.js';
import { connectorIdOf } from './registry/registry-json.js';
import { safeEqual } from './safe-equal.js';

/** `sdk_version` answered by ping: old enough that no SDK warns about a newer version. */
export const PING_SDK_VERSION = '6.0.0';

/**
 * JSON of a deployment as the SDK reads it (`DeploymentSchema`, then `sync()`, `get_tags()`, `get_model_version()`,
 * `get_shadow_model()`); `oracle_host` is this service's monitoring prefix; `model_version_id` and
 * `shadow_model_version_id` are the registry's champion and shadow (null until set; agents poll them to follow a promotion).
 */
export function deploymentJson(ctx: ServerContext, d: DeploymentInfo, req: IncomingMessage) {
  return {
    id: d.id,
    name: d.name,
    type: d.type,
    oracle_host: `${baseUrl(ctx, req)}${ORACLE_PREFIX}`,
    serving_host: null,
    review_campaign_id: null,
    model_version_id: d.championVersionId ?? null,
    shadow_model_version_id: d.shadowVersionId ?? null,
    tags: [],
    organization_id: d.organizationId,
    labels: d.labels,
  };
}

/** `publicUrl`, else the scheme-less Host the client used (so a client reaching us by another name is sent back to it). */
export function baseUrl(ctx: ServerContext, req: IncomingMessage): string {
  if (ctx.config.publicUrl !== undefined) return ctx.config.publicUrl.replace(/\/+$/, '');
  const host = req.headers.host;
  return typeof host === 'string' && /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? `http://${host}` : ctx.url;
}

function organizationOr404(ctx: ServerContext, id: string): OrganizationInfo {
  const org = ctx.organizations.find((o) => o.id === id);
  if (org === undefined) throw new HttpError(404, `Organization ${id} does not exist.`);
  return org;
}

/** Handles a platform route, or returns null when `path` is not one. */
export function handlePlatform(ctx: ServerContext, req: IncomingMessage, url: URL): { status: number; body: unknown } | null {
  const path = url.pathname;
  if (path === '/api/home/ping') {
    allow(req, 'GET');
    requireApiToken(ctx, req);
    return { status: 200, body: { sdk_version: PING_SDK_VERSION, username: 'edgewatch', default_organization: ctx.organizations[0]?.id ?? null } };
  }
  if (path === '/api/organizations/find') {
    allow(req, 'GET');
    requireApiToken(ctx, req);
    const name = url.searchParams.get('name');
    const org = ctx.organizations.find((o) => o.name === name);
    if (org === undefined) throw new HttpError(404, `Organization ${JSON.stringify(name ?? '')} does not exist.`);
    return { status: 200, body: { id: org.id, name: org.name } };
  }
  let m = /^\/api\/organization\/([^/]+)$/.exec(path);
  if (m) {
    allow(req, 'GET');
    requireApiToken(ctx, req);
    const org = organizationOr404(ctx, decodedSegment(m[1] as string));
    // The connector is this service's datalake folder (model files, presigned URLs): see registry/storage-routes.ts.
    return { status: 200, body: { id: org.id, name: org.name, default_connector_id: connectorIdOf(org) } };
  }
  m = /^\/api\/organization\/([^/]+)\/deployments\/find$/.exec(path);
  if (m) {
    allow(req, 'GET');
    requireApiToken(ctx, req);
    const org = organizationOr404(ctx, decodedSegment(m[1] as string));
    const name = url.searchParams.get('name');
    const id = url.searchParams.get('id');
    if (name === null && id === null) throw new HttpError(400, 'Give ?name=<deployment name> or ?id=<deployment id>.');
    const d = org.deployments.find((x) => (name !== null ? x.name === name : x.id === id));
    if (d === undefined) throw new HttpError(404, `Deployment ${JSON.stringify(name ?? id)} does not exist in organization ${org.name}.`);
    return { status: 200, body: deploymentJson(ctx, d, req) };
  }
  m = /^\/api\/deployment\/([^/]+)$/.exec(path);
  if (m) {
    allow(req, 'GET');
    const bearer = bearerOf(req);
    if (bearer === null || !safeEqual(bearer, ctx.token)) {
      throw new HttpError(401, `This is the platform's deployment route: it takes the API token (Authorization: Bearer <token>). The monitoring service answers GET ${ORACLE_PREFIX}/api/deployment/${m[1] as string} with a JWT.`);
    }
    return { status: 200, body: deploymentJson(ctx, deploymentOr404(ctx, decodedSegment(m[1] as string)), req) };
  }
  return null;
}
