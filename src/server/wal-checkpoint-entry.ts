/** The WAL checkpoint worker: its own connection to the monitoring database; a passive checkpoint on a timer and on request. */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointMessage, CheckpointRequest, CheckpointResult } from './wal-checkpointer.js';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };

function post(m: CheckpointMessage): void {
  parentPort?.postMessage(m);
}

let db: Database.Database | null = null;
try {
  db = new Database(file, { fileMustExist: true });
  // This connection never writes; a checkpoint that finds another running answers busy instead of waiting.
  db.pragma('busy_timeout = 0');
} catch (err) {
  post({ id: null, error: `cannot open ${file}: ${(err as Error).message}` });
}

function checkpoint(id: number | null): void {
  if (db === null) {
    if (id !== null) post({ id, error: `cannot open ${file}` });
    return;
  }
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    const result: CheckpointResult = { busy: row?.busy === 1, log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 };
    if (id !== null) post({ id, result });
  } catch (err) {
    post({ id, error: (err as Error).message });
  }
}

if (db !== null) setInterval(() => checkpoint(null), intervalMs);
parentPort?.on('message', (req: CheckpointRequest) => checkpoint(req.id));
