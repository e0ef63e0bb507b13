/** The route label of a request: its path template (`/api/deployment/{id}/predictions`), never a raw id, so the metrics keep a bounded set of series. */
import { ORACLE_PREFIX } from './context.js';

/** Every API path the service answers, as [pattern, template]; ids are one path segment. */
const API_ROUTES: readonly (readonly [RegExp, string])[] = [
  [/^\/api\/home\/ping$/, '/api/home/ping'],
  [/^\/api\/organizations\/find$/, '/api/organizations/find'],
  [/^\/api\/organization\/[^/]+$/, '/api/organization/{id}'],
  [/^\/api\/organization\/[^/]+\/deployments\/find$/, '/api/organization/{id}/deployments/find'],
  [/^\/api\/auth\/login$/, '/api/auth/login'],
  [/^\/api\/deployment\/[^/]+$/, '/api/deployment/{id}'],
  [/^\/api\/deployment\/[^/]+\/predictions$/, '/api/deployment/{id}/predictions'],
  [/^\/api\/deployment\/[^/]+\/stats$/, '/api/deployment/{id}/stats'],
  [/^\/api\/prediction\/[^/]+\/shadow$/, '/api/prediction/{id}/shadow'],
  [/^\/api\/image\/[^/]+$/, '/api/image/{id}'],
  [/^\/api\/dashboard\/session$/, '/api/dashboard/session'],
  [/^\/api\/dashboard\/overview$/, '/api/dashboard/overview'],
];

/** Which monitor call a route template is, for the ingest latency; undefined for any other route. */
export const INGEST_CALLS: Readonly<Record<string, 'monitor' | 'late_shadow'>> = {
  '/api/deployment/{id}/predictions': 'monitor',
  '/api/prediction/{id}/shadow': 'late_shadow',
  [`${ORACLE_PREFIX}/api/deployment/{id}/predictions`]: 'monitor',
  [`${ORACLE_PREFIX}/api/prediction/{id}/shadow`]: 'late_shadow',
};

/**
 * The template of `pathname` (query excluded): an API route with its ids replaced by `{id}` (under
 * the oracle prefix too), `/metrics`, `/` and `/{file}` for the page and its files, `/api/{unknown}`
 * and `/{unknown}` for everything else.
 */
export function routeTemplate(pathname: string): string {
  let prefix = '';
  let path = pathname;
  if (path.startsWith(`${ORACLE_PREFIX}/`)) {
    prefix = ORACLE_PREFIX;
    path = path.slice(ORACLE_PREFIX.length);
  }
  if (path.startsWith('/api/')) {
    for (const [pattern, template] of API_ROUTES) if (pattern.test(path)) return `${prefix}${template}`;
    return `${prefix}/api/{unknown}`;
  }
  if (prefix) return `${prefix}/{unknown}`;
  if (path === '/' || path === '/metrics') return path;
  return /^\/[\w.-]+$/.test(path) ? '/{file}' : '/{unknown}';
}
