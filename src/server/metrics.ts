/** The embedded service's Prometheus metrics: requests by route template and status, ingest latency, stored predictions, datalake bytes, free disk. */
import type { Registry } from 'prom-client';
import { SERVICE_METRICS } from '../metrics/catalog.js';
import { newRegistry, registerMetrics, type MetricsOf } from '../metrics/registry.js';
import type { DeploymentInfo } from './config.js';
import type { DiskGuard } from './disk-guard.js';
import { decodeSegment } from './http-util.js';
import { INGEST_CALLS, routeTemplate } from './metrics-routes.js';
import type { MonitoringStore } from './store-api.js';

/** How long a count of stored predictions is reused (a COUNT over a million rows takes tens of milliseconds). */
const COUNT_MAX_AGE_MS = 60_000;

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** What the service's metrics read when scraped. */
export interface ServiceMetricsSources {
  store: MonitoringStore;
  disk: DiskGuard;
  minFreeBytes: number;
  deployments: ReadonlyMap<string, DeploymentInfo>;
  inFlight: () => number;
}

/** One registry per service process, with every metric of `SERVICE_METRICS`. */
export class ServiceMetrics {
  readonly registry: Registry;
  readonly metrics: MetricsOf<typeof SERVICE_METRICS>;
  readonly #sources: ServiceMetricsSources;
  #counts: { atMs: number; byName: Map<string, number> } | undefined;
  #isClosed = false;

  constructor(sources: ServiceMetricsSources, registry: Registry = newRegistry()) {
    this.registry = registry;
    this.#sources = sources;
    this.metrics = registerMetrics(registry, SERVICE_METRICS, {
      predictionsStored: async (g) => {
        for (const [name, n] of await this.#storedCounts()) g.set({ deployment: name }, n);
      },
      datalakeBytes: async (g) => {
        if (!this.#closed()) g.set(await sources.store.datalakeBytes());
      },
      diskFreeBytes: async (g) => {
        await sources.disk.measure();
        if (Number.isFinite(sources.disk.freeBytes)) g.set(sources.disk.freeBytes);
      },
      diskMinFreeBytes: (g) => g.set(sources.minFreeBytes),
      inFlight: (g) => g.set(sources.inFlight()),
    });
  }

  /** Counts one answered request: `pathname` without the query, `seconds` from arrival to the response closed. */
  request(method: string | undefined, pathname: string, status: number, seconds: number): void {
    const m = this.metrics;
    const route = routeTemplate(pathname);
    const verb = method && METHODS.has(method) ? method : 'other';
    m.requests.inc({ method: verb, route, status: String(status) });
    m.requestSeconds.observe({ method: verb, route }, seconds);
    const call = verb === 'POST' ? INGEST_CALLS[route] : undefined;
    if (call === undefined) return;
    m.ingestSeconds.observe({ call }, seconds);
    if (call !== 'monitor') return;
    const id = /\/api\/deployment\/([^/]+)\/predictions$/.exec(pathname)?.[1];
    // A malformed %-encoding was answered 400 already: it must not throw here (this runs on 'close', outside any catch).
    const decoded = id === undefined ? null : decodeSegment(id);
    const deployment = decoded === null ? undefined : this.#sources.deployments.get(decoded);
    if (deployment) m.predictionsReceived.inc({ deployment: deployment.name, result: resultOf(status) });
  }

  async #storedCounts(): Promise<Map<string, number>> {
    const now = performance.now();
    if (this.#closed()) return this.#counts?.byName ?? new Map();
    if (!this.#counts || now - this.#counts.atMs > COUNT_MAX_AGE_MS) {
      const byName = new Map<string, number>();
      for (const d of this.#sources.deployments.values()) byName.set(d.name, (byName.get(d.name) ?? 0) + (await this.#sources.store.count(d.id)));
      this.#counts = { atMs: now, byName };
    }
    return this.#counts.byName;
  }

  /** The store is about to close: scrapes stop reading it. */
  close(): void {
    this.#isClosed = true;
  }

  #closed(): boolean {
    return this.#isClosed;
  }
}

function resultOf(status: number): string {
  if (status === 201 || status === 200) return 'stored';
  if (status === 409) return 'duplicate';
  if (status === 503) return 'unavailable';
  return status >= 500 ? 'error' : 'refused';
}
