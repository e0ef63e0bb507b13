/** Minimal HS256 JSON Web Tokens with node:crypto: the oracle's login tokens and the dashboard's session cookie. */
import { createHmac } from 'node:crypto';
import { safeEqual } from './safe-equal.js';

/** Claims edgewatch puts in its tokens. `scope` separates oracle JWTs from dashboard sessions. */
export interface JwtClaims {
  /** Deployment id for `oracle`; `dashboard` for sessions. */
  sub: string;
  scope: 'oracle' | 'dashboard';
  /** Issued-at and expiry, epoch seconds. */
  iat: number;
  exp: number;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

function sign(data: string, secret: Buffer): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

/** Signs `claims` (HS256). */
export function signJwt(claims: JwtClaims, secret: Buffer): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${HEADER}.${payload}.${sign(`${HEADER}.${payload}`, secret)}`;
}

/** Verifies signature, algorithm and expiry; returns the claims or null (forged, malformed or expired). */
export function verifyJwt(token: string, secret: Buffer, nowSeconds = Date.now() / 1000): JwtClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [header, payload, signature] = parts as [string, string, string];
  if (!safeEqual(signature, sign(`${header}.${payload}`, secret))) return null;
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown };
    if (h.alg !== 'HS256') return null;
    const c = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<JwtClaims>;
    if (typeof c.sub !== 'string' || (c.scope !== 'oracle' && c.scope !== 'dashboard') || typeof c.exp !== 'number' || typeof c.iat !== 'number') return null;
    if (c.exp <= nowSeconds) return null;
    return { sub: c.sub, scope: c.scope, iat: c.iat, exp: c.exp };
  } catch {
    return null;
  }
}
