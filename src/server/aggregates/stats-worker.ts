/**
 * Statistics off the event loop that accepts monitor calls: one worker thread with its own read-only SQLite
 * connection (WAL lets it read while the main thread writes) computes the dashboard and SDK replies. Requests queue
 * in the worker one at a time; at most `MAX_QUEUED` wait, beyond that a read answers 503 with Retry-After.
 */
import { Worker } from 'node:worker_threads';
import type { DeploymentInfo } from '../config.js';
import { HttpError } from '../http-util.js';
import { workerScript } from '../../worker-launch.js';
import type { DashboardStats, DashboardStatsOptions } from './dashboard-stats.js';
import type { computeSdkStats } from './sdk-stats.js';
import type { SdkQuery } from './sdk-query.js';
import type { StatsFilter } from './window.js';

/** Stats requests waiting for the worker at most (10 dashboards polling send 20 every 3 s). */
export const MAX_QUEUED = 64;

export type SdkStats = Awaited<ReturnType<typeof computeSdkStats>>;
export type StatsRequest =
  | { id: number; kind: 'dashboard'; filter: StatsFilter; options: DashboardStatsOptions }
  | { id: number; kind: 'sdk'; deployment: DeploymentInfo; query: SdkQuery };
export type StatsResponse = { id: number; body: unknown } | { id: number; error: { status: number; message: string; body: Record<string, unknown> } };

/** Where statistics are computed. */
export interface StatsRunner {
  dashboard(filter: StatsFilter, options: DashboardStatsOptions): Promise<DashboardStats>;
  sdk(deployment: DeploymentInfo, query: SdkQuery): Promise<SdkStats>;
}

/** The stats worker of one database file, started on first use. `close()` is idempotent. */
export class StatsWorker implements StatsRunner {
  readonly #file: string;
  #worker: Worker | null = null;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  #closed = false;

  constructor(file: string) {
    this.#file = file;
  }

  #start(): Worker {
    if (this.#worker !== null) return this.#worker;
    const { script, eval: isEval } = workerScript(import.meta.url, 'stats-worker-entry');
    const worker = new Worker(script, { eval: isEval, workerData: { file: this.#file }, execArgv: [] });
    worker.unref();
    worker.on('message', (res: StatsResponse) => {
      const p = this.#pending.get(res.id);
      if (p === undefined) return;
      this.#pending.delete(res.id);
      if ('error' in res) p.reject(new HttpError(res.error.status, res.error.message, Object.fromEntries(Object.entries(res.error.body).filter(([k]) => k !== 'message'))));
      else p.resolve(res.body);
    });
    const fail = (err: Error) => {
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      this.#worker = null;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the stats worker exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #ask<T>(req: { kind: 'dashboard'; filter: StatsFilter; options: DashboardStatsOptions } | { kind: 'sdk'; deployment: DeploymentInfo; query: SdkQuery }): Promise<T> {
    if (this.#closed) return Promise.reject(new HttpError(503, 'The monitoring service is shutting down; retry later.', {}, { 'retry-after': '5' }));
    if (this.#pending.size >= MAX_QUEUED) return Promise.reject(new HttpError(503, 'Too many statistics requests are waiting; retry in a few seconds.', {}, { 'retry-after': '2' }));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#start().postMessage({ ...req, id });
    });
  }

  /** The dashboard's document. */
  dashboard(filter: StatsFilter, options: DashboardStatsOptions): Promise<DashboardStats> {
    return this.#ask({ kind: 'dashboard', filter, options });
  }

  /** One SDK `get_stats` reply (HttpError for 4xx, as computed in the worker). */
  sdk(deployment: DeploymentInfo, query: SdkQuery): Promise<SdkStats> {
    return this.#ask({ kind: 'sdk', deployment: { ...deployment, labels: [...deployment.labels] }, query });
  }

  /** Stops the worker (requests still waiting are rejected). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    if (worker === null) return;
    this.#worker = null;
    await worker.terminate();
  }
}
