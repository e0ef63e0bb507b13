/**
 * The service's observability: its metrics, its readiness, the optional unauthenticated metrics
 * port (`--metrics-port`), and `GET /metrics` on the main port behind the API token.
 */
import type { IncomingMessage } from 'node:http';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import type { ServeConfig } from './config.js';
import { requireApiToken, type ServerContext } from './context.js';
import type { DashboardReply } from './dashboard-routes.js';
import { ServiceHealth } from './health.js';
import { ServiceMetrics, type ServiceMetricsSources } from './metrics.js';

/** Options of `ServiceObservability`. */
export interface ServiceObservabilityOptions extends Omit<ServiceMetricsSources, 'minFreeBytes'> {
  config: ServeConfig;
  dbFile: string;
  probeDatabase?: (() => Promise<true | string>) | undefined;
  closing: () => boolean;
}

/** Metrics and health of one service. `close()` is idempotent. */
export class ServiceObservability {
  readonly metrics: ServiceMetrics;
  readonly health: ServiceHealth;
  readonly #config: ServeConfig;
  #server: MetricsServer | undefined;
  #closing: Promise<void> | undefined;

  constructor(o: ServiceObservabilityOptions) {
    const minFreeBytes = o.config.minFreeGb * 1e9;
    this.#config = o.config;
    this.metrics = new ServiceMetrics({ store: o.store, disk: o.disk, minFreeBytes, deployments: o.deployments, inFlight: o.inFlight });
    this.health = new ServiceHealth({ dbFile: o.dbFile, probeDatabase: o.probeDatabase, disk: o.disk, minFreeBytes, closing: o.closing });
  }

  /** The metrics port's URL, when it listens. */
  get url(): string | undefined {
    return this.#server?.url;
  }

  /** Opens the metrics port when `metricsPort` is set. Throws EW_METRICS_LISTEN when it cannot bind. */
  async listen(onError: (err: unknown, path: string) => void): Promise<void> {
    const { metricsPort, metricsHost } = this.#config;
    if (metricsPort === undefined) return;
    this.#server = await startMetricsServer({ host: metricsHost, port: metricsPort, registry: this.metrics.registry, readiness: () => this.health.readiness(), onError });
  }

  /** `GET /metrics` on the main port, with the API token (401 without); null for any other request. */
  async mainPortReply(ctx: ServerContext, req: IncomingMessage, url: URL): Promise<DashboardReply | null> {
    if (url.pathname !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return null;
    requireApiToken(ctx, req);
    return { status: 200, raw: Buffer.from(await this.metrics.registry.metrics(), 'utf8'), contentType: this.metrics.registry.contentType, headers: { 'cache-control': 'no-store' } };
  }

  /** Stops reading the store and closes the metrics port. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.metrics.close();
      this.health.close();
      await this.#server?.close();
    })();
    return this.#closing;
  }
}
