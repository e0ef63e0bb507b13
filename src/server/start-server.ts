/** Starts the embedded monitoring service: one node:http server answering the Picsellia protocol, the stats API and the dashboard. */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { EdgewatchError, isEdgewatchError } from '../errors.js';
import { resolveOrganizations, type DeploymentInfo, type OrganizationInfo, type ServeConfig } from './config.js';
import type { ServerContext, ServerLogger } from './context.js';
import { Datalake } from './datalake.js';
import { DiskGuard } from './disk-guard.js';
import { HttpError, sendJson } from './http-util.js';
import { ServiceObservability } from './metrics-port.js';
import { Retention, type RetentionResult } from './retention.js';
import { routeRequest } from './routes.js';
import { loadJwtSecret, loadToken } from './secret-files.js';
import { loadStaticFiles, type StaticFile } from './static-files.js';
import { loadDeploymentModels } from './registry/deployment-models.js';
import { openPgRegistryServices, openRegistryServices, type RegistryServices } from './registry/services.js';
import { PgMonitoringStore } from './pg/pg-store.js';
import type { MonitoringStore } from './store-api.js';
import { openMonitoringStore, sqliteFileOf } from './store-open.js';

/** A running service. `close()` is idempotent and returns the same promise every time. */
export interface RunningServer {
  /** Listening URL, e.g. `http://127.0.0.1:8321` (the line to print on start). */
  url: string;
  port: number;
  /** The API token (configured or stored). Print it only when `tokenCreated`; never log it. */
  token: string;
  /** True when the token was generated and stored by this start (first start on this data folder). */
  tokenCreated: boolean;
  /** Dashboard sign-in link `<url>/#key=<random per-process key>`: read-only dashboard access, not the API token. */
  dashboardUrl: string;
  organizations: readonly OrganizationInfo[];
  /** The predictions store: SQLite in the data folder, or PostgreSQL with `database`. */
  store: MonitoringStore;
  /** Retention (`retainDays`, `retainGb`): `run()` makes a pass now (passes also run at start and hourly). */
  retention: { run(): Promise<RetentionResult> };
  /** The unauthenticated metrics port (`/metrics`, `/healthz`, `/readyz`) when `metricsPort` is set. */
  metricsUrl: string | undefined;
  /** Requests being handled right now (for tests and shutdown diagnostics). */
  readonly inFlight: number;
  close(): Promise<void>;
}

const SILENT: ServerLogger = { debug() {}, info() {}, warn() {}, error() {} };

function formatUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

/**
 * Opens the data folder (database, datalake, token, JWT secret), then listens on `config.host:config.port`.
 * Throws `EW_SERVER_LISTEN` when the port cannot be bound, `EW_STORE_OPEN` / `EW_SERVER_CONFIG` for the data folder.
 */
export async function startServer(config: ServeConfig, options: { logger?: ServerLogger } = {}): Promise<RunningServer> {
  const logger = options.logger ?? SILENT;
  const dataDir = resolve(config.dataDir);
  try {
    // Private: folders this creates are 0700 (the datalake always), the database and secrets 0600.
    mkdirSync(join(dataDir, 'datalake'), { recursive: true, mode: 0o700 });
    chmodSync(join(dataDir, 'datalake'), 0o700);
  } catch (cause) {
    throw new EdgewatchError('EW_SERVER_CONFIG', `Cannot create the data folder ${dataDir}: ${(cause as Error).message}.`, { cause, details: { path: dataDir } });
  }
  const organizations = resolveOrganizations(config);
  const deployments = new Map<string, DeploymentInfo>(organizations.flatMap((o) => o.deployments.map((d) => [d.id, d] as const)));
  const files = loadStaticFiles();
  const { token, created: tokenCreated } = loadToken(dataDir, config.token);
  const store = await openMonitoringStore(config, dataDir, logger);
  const jwtSecret = loadJwtSecret(dataDir, token);
  let registry: RegistryServices;
  try {
    // On PostgreSQL the registry shares the store's pool and tables; every replica follows champion/shadow changes (LISTEN).
    registry =
      store instanceof PgMonitoringStore
        ? await openPgRegistryServices(store.sql, jwtSecret, (services, id) => loadDeploymentModels(services, id === null ? deployments.values() : [deployments.get(id)].filter((d) => d !== undefined)), logger)
        : openRegistryServices(sqliteFileOf(dataDir), jwtSecret);
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    await loadDeploymentModels(registry, deployments.values());
  } catch (err) {
    await registry.close();
    await store.close();
    throw err;
  }
  const datalake = new Datalake(join(dataDir, 'datalake'));
  const disk = new DiskGuard({ folder: dataDir, minFreeBytes: config.minFreeGb * 1e9, logger });
  await disk.measure();
  const retention = new Retention({
    store,
    datalake,
    logger,
    policy: { retainDays: config.retainDays, retainBytes: config.retainGb === undefined ? undefined : config.retainGb * 1e9 },
    // Reviewed predictions are never candidates (and a trigger refuses their delete, on both databases).
    candidates: (limit, beforeS) => registry.reviews.oldestUnreviewed(limit, beforeS),
  });
  const ctx: ServerContext = {
    config,
    organizations,
    deployments,
    store,
    datalake,
    disk,
    token,
    jwtSecret,
    dashboardKey: randomBytes(18).toString('base64url'),
    logger,
    url: '',
    registry,
  };

  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | null = null;
  const observability = new ServiceObservability({
    config, store, disk, deployments, dbFile: sqliteFileOf(dataDir), probeDatabase: store.probeWritable?.bind(store), inFlight: () => inFlight, closing: () => closing,
  });

  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    if (closing) {
      res.shouldKeepAlive = false;
      sendJson(res, 503, { message: 'The monitoring service is shutting down; retry later.' }, { connection: 'close', 'retry-after': '5' });
      return;
    }
    inFlight += 1;
    const startedMs = performance.now();
    res.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0 && drained) drained();
      const path = (req.url ?? '').split('?')[0] ?? '';
      const durationMs = performance.now() - startedMs;
      observability.metrics.request(req.method, path, res.statusCode, durationMs / 1000);
      logger.debug({ method: req.method, path, status: res.statusCode, durationMs: Math.round(durationMs) }, 'request');
    });
    void handle(ctx, files, req, res, observability);
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) => {
      void registry.close().then(() => store.close());
      reject(new EdgewatchError('EW_SERVER_LISTEN', `Cannot listen on ${config.host}:${config.port}: ${cause.code ?? cause.message}. Choose another --port or --host.`, { cause, details: { host: config.host, port: config.port } }));
    });
    server.listen(config.port, config.host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  ctx.url = formatUrl(config.host, port);
  try {
    await observability.listen((err, path) => logger.warn({ err: { message: (err as Error).message }, path }, 'metrics port: could not answer'));
  } catch (err) {
    await new Promise<void>((r) => server.close(() => r()));
    await observability.close();
    await registry.close();
    await store.close();
    throw err;
  }
  logger.info({ url: ctx.url, dataDir, deployments: [...deployments.values()].map((d) => `${d.name}:${d.type}`) }, 'monitoring service listening');
  retention.start();

  let closePromise: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closePromise ??= (async () => {
      closing = true;
      const retentionStopped = retention.close();
      const stopped = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((r) => {
          drained = r;
          const timer = setTimeout(r, config.shutdownTimeoutMs);
          timer.unref();
        });
      }
      server.closeAllConnections();
      await stopped;
      await retentionStopped;
      await observability.close();
      await registry.close();
      await store.close();
      logger.info({}, 'monitoring service stopped');
    })();
    return closePromise;
  };

  return {
    url: ctx.url,
    port,
    token,
    tokenCreated,
    dashboardUrl: `${ctx.url}/#key=${ctx.dashboardKey}`,
    organizations,
    store,
    retention,
    metricsUrl: observability.url,
    get inFlight() {
      return inFlight;
    },
    close,
  };
}

async function handle(ctx: ServerContext, files: ReadonlyMap<string, StaticFile>, req: IncomingMessage, res: ServerResponse, observability: ServiceObservability): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const reply = (await observability.mainPortReply(ctx, req, url)) ?? (await routeRequest(ctx, req, url, files));
    if (reply === null) throw new HttpError(404, `No route for ${req.method ?? ''} ${url.pathname}.`);
    if ('stream' in reply) {
      // A presigned download: streamed from its file with Content-Length (the SDK refuses a body without it).
      res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': reply.contentLength, ...(reply.headers ?? {}) });
      if (reply.stream === null) res.end();
      else {
        reply.stream.once('error', () => res.destroy());
        reply.stream.pipe(res);
        res.once('close', () => reply.stream?.destroy());
      }
    } else if ('raw' in reply) {
      res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': reply.raw.length, ...(reply.headers ?? {}) });
      res.end(req.method === 'HEAD' ? undefined : reply.raw);
    } else {
      sendJson(res, reply.status, reply.body, (reply as { headers?: Record<string, string> }).headers ?? {});
    }
  } catch (err) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (isEdgewatchError(err, 'EW_SERVER_DATABASE')) {
      // The database is down or overloaded: a 503 with Retry-After, which agents retry (the prediction stays in their outbox).
      ctx.logger.warn({ code: err.code, path: (req.url ?? '').split('?')[0] }, err.message);
      sendJson(res, 503, { message: 'The monitoring service\'s database is unavailable; retry later.', code: err.code }, { 'retry-after': '5' });
      return;
    }
    if (err instanceof HttpError) {
      if (err.status === 413) res.shouldKeepAlive = false;
      sendJson(res, err.status, err.body, err.status === 413 ? { ...err.headers, connection: 'close' } : err.headers);
      return;
    }
    ctx.logger.error({ err: { message: (err as Error).message, code: (err as { code?: unknown }).code }, path: (req.url ?? '').split('?')[0] }, 'request failed');
    sendJson(res, 500, { message: 'Internal error of the monitoring service.' });
  }
}
