/** The stats worker thread: its own read-only connection to the monitoring database; answers dashboard and SDK stats requests. */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { HttpError } from '../http-util.js';
import { computeDashboardStats } from './dashboard-stats.js';
import { computeSdkStats } from './sdk-stats.js';
import { SqliteAggregateReader } from './sqlite-reader.js';
import type { StatsRequest, StatsResponse } from './stats-worker.js';

const db = new Database((workerData as { file: string }).file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const reader = new SqliteAggregateReader(db);

parentPort?.on('message', (req: StatsRequest) => {
  const run = req.kind === 'dashboard' ? computeDashboardStats(reader, req.filter, req.options) : computeSdkStats(reader, req.deployment, req.query);
  run.then(
    (body) => parentPort?.postMessage({ id: req.id, body } satisfies StatsResponse),
    (err: unknown) =>
      parentPort?.postMessage({
        id: req.id,
        error: err instanceof HttpError ? { status: err.status, message: err.message, body: err.body } : { status: 500, message: (err as Error).message, body: {} },
      } satisfies StatsResponse),
  );
});
