/** What every route of the embedded service shares: configuration, deployments, store, datalake, secrets, and the auth checks. */
import type { IncomingMessage } from 'node:http';
import type { DeploymentInfo, OrganizationInfo, ServeConfig } from './config.js';
import type { Datalake } from './datalake.js';
import type { DiskGuard } from './disk-guard.js';
import { HttpError, bearerOf, cookieOf } from './http-util.js';
import { signJwt, verifyJwt, type JwtClaims } from './jwt.js';
import { safeEqual } from './safe-equal.js';
import type { RegistryServices } from './registry/services.js';
import type { MonitoringStore } from './store-api.js';

/** pino-compatible logger subset used by the service. Never given tokens. */
export interface ServerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Path prefix of the monitoring ("oracle") routes: deployments advertise `oracle_host` as `<base URL>/oracle`. */
export const ORACLE_PREFIX = '/oracle';

/** Name of the dashboard session cookie (an HS256 JWT of scope `dashboard`, never the API token). */
export const SESSION_COOKIE = 'ew_session';
/** Lifetime of a dashboard session. */
export const SESSION_TTL_S = 12 * 3600;

/** Shared state of one running service. */
export interface ServerContext {
  config: ServeConfig;
  organizations: readonly OrganizationInfo[];
  deployments: ReadonlyMap<string, DeploymentInfo>;
  store: MonitoringStore;
  datalake: Datalake;
  /** Free space of the data folder's disk: monitor calls check it before storing anything. */
  disk: DiskGuard;
  token: string;
  /** Signing key of JWTs and sessions, derived from the stored secret and the token (a new token revokes them all). */
  jwtSecret: Buffer;
  /** Random key of the dashboard login link (read-only dashboard access; not the API token); replaced once used. */
  dashboardKey: string;
  logger: ServerLogger;
  /** URL the server listens on, e.g. `http://127.0.0.1:8321`. */
  url: string;
  /** Model registry, champion/shadow history, reviews and presigned storage URLs (issue 11). */
  registry: RegistryServices;
}

/** Platform calls: `Authorization: Bearer <api token>`, else 401. */
export function requireApiToken(ctx: ServerContext, req: IncomingMessage): void {
  const bearer = bearerOf(req);
  if (bearer === null || !safeEqual(bearer, ctx.token)) throw new HttpError(401, 'Invalid or missing API token (Authorization: Bearer <token>).');
}

/** Oracle calls: a valid, unexpired oracle JWT, else 401. */
export function requireJwt(ctx: ServerContext, req: IncomingMessage): JwtClaims {
  const bearer = bearerOf(req);
  const claims = bearer === null ? null : verifyJwt(bearer, ctx.jwtSecret);
  if (claims === null || claims.scope !== 'oracle') throw new HttpError(401, 'Invalid, expired or missing JWT: log in again with POST /api/auth/login.');
  return claims;
}

/** The deployment of `id`, else 404. */
export function deploymentOr404(ctx: ServerContext, id: string): DeploymentInfo {
  const d = ctx.deployments.get(id);
  if (d === undefined) throw new HttpError(404, `Deployment ${id} does not exist.`);
  return d;
}

/** A JWT may only act on the deployment it was issued for. */
export function requireSameDeployment(claims: JwtClaims, deploymentId: string): void {
  if (claims.sub !== deploymentId) throw new HttpError(403, 'This JWT was issued for another deployment.');
}

/**
 * Read access (stats, gallery, images, deployment info): the API token, an oracle JWT of that deployment, or a dashboard
 * session cookie. Returns nothing; throws 401.
 */
export function requireReader(ctx: ServerContext, req: IncomingMessage, deploymentId: string | null): void {
  const bearer = bearerOf(req);
  if (bearer !== null) {
    if (safeEqual(bearer, ctx.token)) return;
    const claims = verifyJwt(bearer, ctx.jwtSecret);
    if (claims?.scope === 'oracle' && (deploymentId === null || claims.sub === deploymentId)) return;
    throw new HttpError(401, 'Invalid or expired credentials.');
  }
  const session = cookieOf(req, SESSION_COOKIE);
  if (session !== null && verifyJwt(session, ctx.jwtSecret)?.scope === 'dashboard') return;
  throw new HttpError(401, 'Not signed in: open the dashboard link printed by `edgewatch serve`, or enter the API token on the dashboard.');
}

/** A new oracle JWT for a deployment. */
export function issueOracleJwt(ctx: ServerContext, deploymentId: string): { jwt: string; expires: number } {
  const now = Math.floor(Date.now() / 1000);
  return { jwt: signJwt({ sub: deploymentId, scope: 'oracle', iat: now, exp: now + ctx.config.jwtTtlSeconds }, ctx.jwtSecret), expires: ctx.config.jwtTtlSeconds };
}

/** `Set-Cookie` value of a new dashboard session (`write`: opened with the API token). */
export function sessionCookie(ctx: ServerContext, write = false): string {
  const now = Math.floor(Date.now() / 1000);
  // A session opened with the API token may review and promote (registry/write-access.ts); one opened with the link reads only.
  const value = signJwt({ sub: write ? 'dashboard:write' : 'dashboard', scope: 'dashboard', iat: now, exp: now + SESSION_TTL_S }, ctx.jwtSecret);
  // Secure when clients reach the service over https (behind a proxy); over plain http a browser would drop it.
  const secure = ctx.config.publicUrl?.startsWith('https:') === true ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_S}${secure}`;
}
