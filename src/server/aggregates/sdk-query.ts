/** The query of the SDK's `Deployment.get_stats(...)`: which service, on which endpoint, with which filters; 422 naming the field for anything else. */
import { HttpError, epochSecondsParam } from '../http-util.js';

/** Services per endpoint, as `picsellia.types.enums` maps them (PROTOCOL.md §7.5.4). */
export const SDK_SERVICES = {
  aggregated: ['metrics', 'label_distribution', 'object_detection', 'ks_drift'],
  predictions: ['metrics', 'label_distribution', 'object_detection', 'classification', 'ae_outlier'],
} as const;

/** `aggregated` = `GET …/stats`, `predictions` = `GET …/predictions/stats`. */
export type SdkEndpoint = keyof typeof SDK_SERVICES;
export type SdkService = 'metrics' | 'label_distribution' | 'object_detection' | 'classification' | 'ks_drift' | 'ae_outlier';

/** A parsed `get_stats` query. Times are epoch seconds. */
export interface SdkQuery {
  endpoint: SdkEndpoint;
  service: SdkService;
  modelId?: string | undefined;
  fromS?: number | undefined;
  toS?: number | undefined;
  sinceS?: number | undefined;
  tags: string[];
  includes: string[];
  excludes: string[];
}

function bad(field: string, message: string, status = 422): HttpError {
  return new HttpError(status, `Invalid stats query: ${field} ${message}`, { field });
}

function timeOf(url: URL, name: string): number | undefined {
  const t = epochSecondsParam(url, name);
  if (Number.isNaN(t)) throw bad(name, 'must be epoch seconds or an ISO 8601 date.');
  return t;
}

/** Repeated values (`?tags=a&tags=b`, as python-requests sends a list), empty ones dropped. */
function listOf(url: URL, name: string): string[] {
  return url.searchParams.getAll(name).filter((v) => v !== '');
}

/** Parses the query of a stats call on `endpoint`; `nowS` resolves `since`. */
export function parseSdkQuery(url: URL, endpoint: SdkEndpoint, nowS: number): SdkQuery {
  const service = url.searchParams.get('service');
  const all = [...new Set([...SDK_SERVICES.aggregated, ...SDK_SERVICES.predictions])];
  if (service === null || service === '') throw bad('service', `is required: one of ${SDK_SERVICES[endpoint].join(', ')}.`);
  if (!(all as string[]).includes(service)) throw bad('service', `"${service}" is not a service of the monitoring API: use one of ${all.join(', ')}.`);
  if (!(SDK_SERVICES[endpoint] as readonly string[]).includes(service)) {
    const other: SdkEndpoint = endpoint === 'aggregated' ? 'predictions' : 'aggregated';
    throw bad('service', `"${service}" is answered by GET /api/deployment/{id}/${other === 'aggregated' ? 'stats' : 'predictions/stats'}, not by this endpoint.`);
  }
  if (service === 'ae_outlier') {
    throw bad('service', '"ae_outlier" is not supported by the embedded monitoring service: it runs no outlier-detection (autoencoder) model, so no prediction has an outlier score.');
  }
  const q: SdkQuery = { endpoint, service: service as SdkService, tags: listOf(url, 'tags'), includes: listOf(url, 'includes'), excludes: listOf(url, 'excludes') };
  const modelId = url.searchParams.get('model_id');
  if (modelId) q.modelId = modelId;
  q.fromS = timeOf(url, 'from_timestamp');
  q.toS = timeOf(url, 'to_timestamp');
  const since = url.searchParams.get('since');
  if (since !== null && since !== '') {
    const s = Number(since);
    if (!(Number.isFinite(s) && s > 0)) throw bad('since', 'must be a positive number of seconds.');
    if (q.fromS !== undefined) throw bad('since', 'and from_timestamp both set the start of the window: give one of them.');
    q.sinceS = s;
    q.fromS = nowS - s;
  }
  if (q.fromS !== undefined && q.toS !== undefined && q.fromS > q.toS) throw bad('to_timestamp', 'is before the start of the window.');
  if ((q.includes.length > 0 || q.excludes.length > 0) && (q.service === 'metrics' || q.service === 'ks_drift')) {
    throw bad(q.includes.length > 0 ? 'includes' : 'excludes', `selects classes, and ${q.service} is not kept per class: use it with label_distribution, classification or object_detection.`);
  }
  return q;
}

/** The class ids `includes`/`excludes` keep, from class names or ids; null = every class. Unknown names answer 422. */
export function classSelection(q: SdkQuery, labels: readonly string[]): ((id: number | null) => boolean) | null {
  if (q.includes.length === 0 && q.excludes.length === 0) return null;
  const ids = (field: 'includes' | 'excludes') =>
    new Set(
      q[field].map((v) => {
        if (v === '(none)') return null;
        const byName = labels.indexOf(v);
        if (byName !== -1) return byName;
        if (/^\d+$/.test(v)) return Number(v);
        throw bad(field, `names no class of this deployment: "${v}" (give class names${labels.length ? ` among ${labels.join(', ')}` : ''} or class ids).`);
      }),
    );
  const inc = ids('includes');
  const exc = ids('excludes');
  return (id) => (inc.size === 0 || inc.has(id)) && !exc.has(id);
}
