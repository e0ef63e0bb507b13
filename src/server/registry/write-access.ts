/**
 * Who may change things (reviews, champion/shadow, promotion, uploads): the API token, or a dashboard session opened
 * with the API token. A session opened with the printed dashboard link reads only. Cookie-borne writes must also
 * prove they come from the dashboard's own page (CSRF): the cookie is SameSite=Strict, and the request must carry
 * the `x-edgewatch-write: 1` header (a cross-site form cannot set it, and fetch would need a CORS pre-flight this
 * service never grants) and, when the browser sends `Origin`, an Origin equal to the service's own.
 */
import type { IncomingMessage } from 'node:http';
import { SESSION_COOKIE, type ServerContext } from '../context.js';
import { HttpError, bearerOf, cookieOf } from '../http-util.js';
import { verifyJwt } from '../jwt.js';
import { safeEqual } from '../safe-equal.js';

/** `sub` of a dashboard session that may write (opened with the API token). */
export const WRITER_SESSION_SUB = 'dashboard:write';
/** Header the dashboard sends with every write. */
export const WRITE_HEADER = 'x-edgewatch-write';

function sameOrigin(ctx: ServerContext, req: IncomingMessage, origin: string): boolean {
  const host = req.headers.host;
  const candidates = [ctx.url, ctx.config.publicUrl, typeof host === 'string' ? `http://${host}` : undefined, typeof host === 'string' ? `https://${host}` : undefined];
  return candidates.some((c) => c !== undefined && c.replace(/\/+$/, '') === origin);
}

/** Throws 401/403 unless the request may write; returns how it was authorised. */
export function requireWriter(ctx: ServerContext, req: IncomingMessage): 'token' | 'session' {
  const bearer = bearerOf(req);
  if (bearer !== null) {
    if (safeEqual(bearer, ctx.token)) return 'token';
    throw new HttpError(401, 'Invalid API token (Authorization: Bearer <token>).');
  }
  const session = cookieOf(req, SESSION_COOKIE);
  const claims = session === null ? null : verifyJwt(session, ctx.jwtSecret);
  if (claims === null || claims.scope !== 'dashboard') throw new HttpError(401, 'Not signed in: this call takes the API token (Authorization: Bearer <token>) or a dashboard session opened with it.');
  if (claims.sub !== WRITER_SESSION_SUB) throw new HttpError(403, 'This dashboard session is read-only (opened with the printed link): sign in with the API token to review or promote.');
  if (req.headers[WRITE_HEADER] !== '1') throw new HttpError(403, `Cross-site request refused: dashboard writes carry the ${WRITE_HEADER}: 1 header.`);
  const origin = req.headers.origin;
  if (typeof origin === 'string' && !sameOrigin(ctx, req, origin)) throw new HttpError(403, `Cross-site request refused: Origin ${origin} is not this service.`);
  return 'session';
}
