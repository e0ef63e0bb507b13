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
  [/^\/api\/dashboard\/access$/, '/api/dashboard/access'],
  // SDK stats, promotion, predicted assets and the verdict.
  [/^\/api\/deployment\/[^/]+\/predictions\/stats$/, '/api/deployment/{id}/predictions/stats'],
  [/^\/api\/deployment\/[^/]+\/(model|shadow|promote|predictedassets|verdict)$/, '/api/deployment/{id}/$1'],
  [/^\/api\/deployment\/[^/]+\/predictedassets\/find$/, '/api/deployment/{id}/predictedassets/find'],
  [/^\/api\/predicted\/asset\/[^/]+$/, '/api/predicted/asset/{id}'],
  [/^\/api\/predicted\/asset\/[^/]+\/reviews$/, '/api/predicted/asset/{id}/reviews'],
  // The model registry and its object storage.
  [/^\/api\/organization\/[^/]+\/(models|models\/find|modelversions\/find)$/, '/api/organization/{id}/$1'],
  [/^\/api\/organization\/[^/]+\/connector\/[^/]+\/generate_object_name$/, '/api/organization/{id}/connector/{id}/generate_object_name'],
  [/^\/api\/model\/file\/[^/]+$/, '/api/model/file/{id}'],
  [/^\/api\/model\/version\/[^/]+(\/modelfiles|\/modelfiles\/find)?$/, '/api/model/version/{id}$1'],
  [/^\/api\/model\/[^/]+(\/versions|\/versions\/find)?$/, '/api/model/{id}$1'],
  [/^\/api\/object-storage\/[^/]+\/(generate_presigned_url|retrieve_presigned_url|init_multipart_upload)$/, '/api/object-storage/{id}/$1'],
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
    for (const [pattern, template] of API_ROUTES) {
      const match = pattern.exec(path);
      // `$1` keeps a fixed alternative of the pattern (never an id): the set of templates stays bounded.
      if (match) return `${prefix}${template.replace('$1', match[1] ?? '')}`;
    }
    return `${prefix}/api/{unknown}`;
  }
  if (prefix) return `${prefix}/{unknown}`;
  if (path === '/' || path === '/metrics') return path;
  return /^\/[\w.-]+$/.test(path) ? '/{file}' : '/{unknown}';
}
