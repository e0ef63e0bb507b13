/** Opens the service's store from its configuration: the SQLite file of the data folder, or PostgreSQL with `database`. */
import { join } from 'node:path';
import type { ServeConfig } from './config.js';
import type { ServerLogger } from './context.js';
import { PgMonitoringStore } from './pg/pg-store.js';
import { makePrivateFile } from './secret-files.js';
import type { MonitoringStore } from './store-api.js';
import { SqliteMonitoringStore } from './store-sqlite.js';

/** The SQLite database file of a data folder (predictions, aggregates, and the registry's tables). */
export function sqliteFileOf(dataDir: string): string {
  return join(dataDir, 'monitoring.db');
}

/** Opens the store. Throws `EW_STORE_OPEN` (SQLite) or `EW_SERVER_DATABASE` (PostgreSQL unreachable or unusable). */
export async function openMonitoringStore(config: ServeConfig, dataDir: string, logger: ServerLogger): Promise<MonitoringStore> {
  if (config.database === undefined) {
    makePrivateFile(sqliteFileOf(dataDir));
    return new SqliteMonitoringStore(sqliteFileOf(dataDir), {
      checkpoint: { onError: (err) => logger.warn({ code: 'EW_STORE_CHECKPOINT', err: { message: err.message } }, 'a WAL checkpoint failed; the writer checkpoints on commits past 16 MiB of WAL') },
    });
  }
  return PgMonitoringStore.open(config.database, {
    onIdleError: (err) => logger.warn({ code: 'EW_SERVER_DATABASE', err: { message: err.message } }, 'a PostgreSQL connection was lost; the next query reconnects'),
  });
}
