/**
 * SQLite's WAL checkpoints off the event loop that accepts monitor calls. By default SQLite checkpoints inline: the
 * commit that takes the WAL past 1,000 pages copies them into the database and fsyncs both files, holding that commit
 * (and the event loop) for 10–180 ms when the disk is busy. Here a worker thread with its own connection runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs` (it never waits for readers or the writer), and the writer's
 * `wal_autocheckpoint` is raised to `WAL_HARD_CAP_PAGES`: the inline checkpoint stays only as the bound of the WAL
 * when the worker falls behind or fails. A failure is reported to `onError` (logged), never thrown.
 */
import { Worker } from 'node:worker_threads';
import { workerScript } from '../worker-launch.js';

/** Pages (4 KiB each) the WAL may hold before the writer checkpoints inline after all: 16 MiB. */
export const WAL_HARD_CAP_PAGES = 4000;
/** How often the worker checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 1000;

/** One checkpoint's result: frames in the WAL, frames copied into the database, whether it could not run now. */
export interface CheckpointResult {
  busy: boolean;
  log: number;
  checkpointed: number;
}

export type CheckpointRequest = { id: number };
export type CheckpointMessage = { id: number | null; result: CheckpointResult } | { id: number | null; error: string };

export interface WalCheckpointerOptions {
  intervalMs?: number;
  /** A checkpoint failed or the worker stopped: the WAL is then bounded by the writer's inline checkpoints. */
  onError?: (err: Error) => void;
}

/** The background checkpoints of one database file. `close()` is idempotent. */
export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void }>();
  readonly #onError: (err: Error) => void;
  #next = 1;
  #stopped = false;
  /** Checkpoints run by the timer that failed (the first and one in 60 reported to `onError`). */
  failures = 0;

  constructor(file: string, options: WalCheckpointerOptions = {}) {
    this.#onError = options.onError ?? (() => undefined);
    const { script, eval: isEval } = workerScript(import.meta.url, 'wal-checkpoint-entry');
    this.#worker = new Worker(script, { eval: isEval, workerData: { file, intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS }, execArgv: [] });
    this.#worker.unref();
    this.#worker.on('message', (m: CheckpointMessage) => {
      const waiting = m.id === null ? undefined : this.#pending.get(m.id);
      if (m.id !== null) this.#pending.delete(m.id);
      if ('error' in m) {
        const err = new Error(`WAL checkpoint failed: ${m.error}`);
        if (waiting) waiting.reject(err);
        else {
          // The first failure, then one in 60 (a persistent one would otherwise log every interval).
          this.failures++;
          if (this.failures % 60 === 1) this.#onError(this.failures === 1 ? err : new Error(`${err.message} (${this.failures} failures so far)`));
        }
      } else waiting?.resolve(m.result);
    });
    const stop = (err: Error) => {
      const wasStopped = this.#stopped;
      this.#stopped = true;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      if (!wasStopped) this.#onError(err);
    };
    this.#worker.on('error', (err) => stop(new Error(`the WAL checkpoint worker failed: ${err.message}; checkpoints run on commits again`)));
    this.#worker.on('exit', (code) => stop(new Error(`the WAL checkpoint worker exited (code ${code}); checkpoints run on commits again`)));
  }

  /** One checkpoint now (besides the timer's): what tests and shutdown use. */
  checkpointNow(): Promise<CheckpointResult> {
    if (this.#stopped) return Promise.reject(new Error('the WAL checkpoint worker is stopped'));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id } satisfies CheckpointRequest);
    });
  }

  /** Stops the worker (its connection closes with it). */
  async close(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const p of this.#pending.values()) p.reject(new Error('the WAL checkpoint worker is stopped'));
    this.#pending.clear();
    await this.#worker.terminate();
  }
}
