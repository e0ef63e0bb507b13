/** Opens the service's store from its configuration: the SQLite file of the data folder, or PostgreSQL with `database`. */
import { join } from 'node:path';
import type { ServeConfig } from './config.js';
import type { ServerLogger } from './context.js';
import { HttpError } from './http-util.js';
import { PgMonitoringStore } from './pg/pg-store.js';
import type { RegistryServices } from './registry/services.js';
import { makePrivateFile } from './secret-files.js';
import type { MonitoringStore } from './store-api.js';
import { SqliteMonitoringStore } from './store-sqlite.js';
import type { PredictionStore } from './store.js';

/** The SQLite database file of a data folder (predictions, aggregates, and the registry's tables). */
export function sqliteFileOf(dataDir: string): string {
  return join(dataDir, 'monitoring.db');
}

/** Opens the store. Throws `EW_STORE_OPEN` (SQLite) or `EW_SERVER_DATABASE` (PostgreSQL unreachable or unusable). */
export async function openMonitoringStore(config: ServeConfig, dataDir: string, logger: ServerLogger): Promise<MonitoringStore> {
  if (config.database === undefined) {
    makePrivateFile(sqliteFileOf(dataDir));
    return new SqliteMonitoringStore(sqliteFileOf(dataDir));
  }
  return PgMonitoringStore.open(config.database, {
    onIdleError: (err) => logger.warn({ code: 'EW_SERVER_DATABASE', err: { message: err.message } }, 'a PostgreSQL connection was lost; the next query reconnects'),
  });
}

const POSTGRES_UNSUPPORTED =
  'The model registry, model files, champion/shadow changes and reviews are not available when the monitoring service runs on PostgreSQL (--database): run it on its default SQLite store for these.';

/**
 * The synchronous SQLite store under `store`, for the registry and reviews (their tables join the SQLite predictions);
 * on PostgreSQL, a 501 with `EW_SERVER_POSTGRES_UNSUPPORTED`.
 */
export function sqliteStoreOf(store: MonitoringStore): PredictionStore {
  if (store instanceof SqliteMonitoringStore) return store.sqlite;
  throw new HttpError(501, POSTGRES_UNSUPPORTED, { code: 'EW_SERVER_POSTGRES_UNSUPPORTED' });
}

/**
 * The registry of a service on PostgreSQL: its tables (models, champion/shadow history, reviews) live in SQLite beside
 * the predictions they join, so every route that needs it answers 501 with `EW_SERVER_POSTGRES_UNSUPPORTED`.
 */
export function registryOnPostgres(): RegistryServices {
  const refuse = (): never => {
    throw new HttpError(501, POSTGRES_UNSUPPORTED, { code: 'EW_SERVER_POSTGRES_UNSUPPORTED' });
  };
  // Handlers may take `ctx.registry.models` before matching their paths: the refusal comes when a method is called.
  const refusing = <T extends object>(): T => new Proxy({}, { get: () => refuse }) as T;
  return { models: refusing(), reviews: refusing(), signer: refusing(), close() {} };
}
