/**
 * Retention of the embedded service: predictions captured longer ago than `retainDays`, then the
 * ones captured first while the datalake is over `retainBytes`, are deleted with their image files,
 * at start and every hour, in bounded batches so that monitor calls never wait long behind it.
 * At start, a bounded sweep also removes image files left without a row (see datalake-sweep.ts).
 */
import type { ServerLogger } from './context.js';
import type { Datalake } from './datalake.js';
import { sweepOrphanFiles, type SweepOptions, type SweepResult } from './datalake-sweep.js';
import type { RetentionCandidate } from './store.js';

/**
 * Rows per batch. Measured on a 1 M-row database: the batch's select and delete transaction take
 * about 0.7 ms (p95 1.3 ms), twice that at 500 rows; a rare commit takes 10-90 ms, most likely
 * SQLite's WAL auto-checkpoint landing on it (inserts meet it too).
 */
export const RETENTION_BATCH_ROWS = 200;
/** Passes run at start, then this long after the previous pass ended. */
export const RETENTION_INTERVAL_MS = 3600_000;
/** Files unlinked at once (the libuv pool also serves the datalake writes of monitor calls). */
const UNLINK_CONCURRENCY = 16;

/** What to keep. Undefined limits are not applied. */
export interface RetentionPolicy {
  retainDays?: number | undefined;
  retainBytes?: number | undefined;
}

/** What one pass did. `longestBatchMs` is the longest synchronous (event-loop) part of a batch: its select and delete. */
export interface RetentionResult {
  deletedByAge: number;
  deletedBySize: number;
  freedBytes: number;
  batches: number;
  longestBatchMs: number;
}

/** What retention needs of a store: `MonitoringStore` (promises) or the SQLite `PredictionStore` (synchronous). */
export interface RetentionStore {
  oldest(limit: number, beforeS?: number): RetentionCandidate[] | Promise<RetentionCandidate[]>;
  datalakeBytes(): number | Promise<number>;
  deleteMany(ids: readonly string[]): number | Promise<number>;
  /** The row of a prediction, if it still exists (which rows of a batch the database kept; the start sweep). */
  get(id: string): unknown | Promise<unknown>;
}

/** Test seams: called at the points where a concurrent writer (a review, another replica) could land. */
export interface RetentionHooks {
  /** After a batch is selected, before its rows are deleted. */
  beforeDelete?: (batch: readonly RetentionCandidate[]) => void | Promise<void>;
  /** After the batch's rows are deleted, before their files are. */
  beforeFiles?: (deleted: readonly RetentionCandidate[]) => void | Promise<void>;
}

/** Options of `Retention`. */
export interface RetentionOptions {
  store: RetentionStore;
  datalake: Datalake;
  policy: RetentionPolicy;
  logger: ServerLogger;
  batchRows?: number;
  intervalMs?: number;
  /** Clock in epoch milliseconds (tests). */
  now?: () => number;
  /**
   * The deletable predictions captured first (before `beforeS` when given); default `store.oldest`. The service passes
   * the review store's `oldestUnreviewed`: a reviewed prediction is never a candidate (and a trigger refuses its delete).
   */
  candidates?: ((limit: number, beforeS?: number) => RetentionCandidate[] | Promise<RetentionCandidate[]>) | undefined;
  hooks?: RetentionHooks | undefined;
  /** Options of the start sweep (tests: its bound, minimum age and clock). */
  sweep?: Pick<SweepOptions, 'maxFiles' | 'minAgeMs' | 'now'> | undefined;
}

/** The oldest of `rows` whose bytes cover `excess` (all of them if they do not). */
function coveringPrefix(rows: RetentionCandidate[], excess: number): RetentionCandidate[] {
  let sum = 0;
  let n = 0;
  while (n < rows.length && sum < excess) sum += (rows[n++] as RetentionCandidate).imageBytes;
  return rows.slice(0, n);
}

/**
 * Runs retention passes. Rows go before files, and only the files of the rows the database really deleted: a prediction
 * reviewed after its batch was selected is refused by the database (a trigger keeps reviewed rows) and keeps its image.
 * A pass cut short between the two (crash) leaves files without a row, which the sweep at the next start removes.
 * Reviewed predictions (the verdict's ground truth) are never deleted: they are not candidates, and they still count in
 * the datalake's size.
 */
export class Retention {
  readonly #o: Required<Omit<RetentionOptions, 'policy' | 'candidates' | 'hooks' | 'sweep'>> & { policy: RetentionPolicy };
  readonly #candidates: (limit: number, beforeS?: number) => RetentionCandidate[] | Promise<RetentionCandidate[]>;
  readonly #hooks: RetentionHooks;
  readonly #sweepOptions: RetentionOptions['sweep'];
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<RetentionResult> | null = null;
  #sweeping: Promise<SweepResult> | null = null;
  #closed = false;

  constructor(options: RetentionOptions) {
    const { candidates, hooks, sweep, ...rest } = options;
    this.#o = { batchRows: RETENTION_BATCH_ROWS, intervalMs: RETENTION_INTERVAL_MS, now: Date.now, ...rest };
    this.#candidates = candidates ?? ((limit, beforeS) => options.store.oldest(limit, beforeS));
    this.#hooks = hooks ?? {};
    this.#sweepOptions = sweep;
  }

  /** True when a limit is set; otherwise `start` does nothing. */
  get enabled(): boolean {
    return this.#o.policy.retainDays !== undefined || this.#o.policy.retainBytes !== undefined;
  }

  /**
   * Starts the datalake sweep (whatever the policy), then, when a limit is set, a pass now and one every interval after
   * each pass ends (timer unref'd: it never keeps the process alive).
   */
  start(): void {
    if (this.#closed) return;
    void this.sweep();
    if (!this.enabled) return;
    const loop = (): void => {
      this.#timer = null;
      void this.run().finally(() => {
        if (this.#closed) return;
        this.#timer = setTimeout(loop, this.#o.intervalMs);
        this.#timer.unref();
      });
    };
    loop();
  }

  /** One pass (a pass already running is shared). Never rejects: failures are logged with `EW_SERVER_RETENTION`. */
  run(): Promise<RetentionResult> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** The start sweep: image files without a row, among the oldest, removed (a sweep already running is shared). */
  sweep(): Promise<SweepResult> {
    const { store, datalake, logger } = this.#o;
    this.#sweeping ??= sweepOrphanFiles({
      datalake,
      logger,
      ...this.#sweepOptions,
      exists: async (id) => (await store.get(id)) !== undefined,
      stopped: () => this.#closed,
    }).finally(() => {
      this.#sweeping = null;
    });
    return this.#sweeping;
  }

  /** Stops the timer and waits for a running pass (or sweep) to end after its current batch. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.all([this.#running, this.#sweeping]);
  }

  async #pass(): Promise<RetentionResult> {
    const result: RetentionResult = { deletedByAge: 0, deletedBySize: 0, freedBytes: 0, batches: 0, longestBatchMs: 0 };
    const { store, policy, batchRows, logger } = this.#o;
    const startedMs = performance.now();
    try {
      while (!this.#closed) {
        const t0 = performance.now();
        let batch: RetentionCandidate[] = [];
        let bySize = false;
        if (policy.retainDays !== undefined) batch = await this.#candidates(batchRows, this.#o.now() / 1000 - policy.retainDays * 86_400);
        if (batch.length === 0 && policy.retainBytes !== undefined) {
          const excess = (await store.datalakeBytes()) - policy.retainBytes;
          if (excess > 0) batch = coveringPrefix(await this.#candidates(batchRows), excess);
          bySize = true;
        }
        let syncMs = performance.now() - t0;
        if (batch.length === 0) break;
        await this.#hooks.beforeDelete?.(batch);
        const t1 = performance.now();
        const deleted = await store.deleteMany(batch.map((r) => r.id));
        syncMs += performance.now() - t1;
        if (deleted === 0) break; // nothing left to select again: never spin
        const gone = deleted === batch.length ? batch : await this.#rowsGone(batch);
        await this.#hooks.beforeFiles?.(gone);
        await this.#removeFiles(gone);
        result.batches += 1;
        result.longestBatchMs = Math.max(result.longestBatchMs, syncMs);
        result.freedBytes += gone.reduce((n, r) => n + r.imageBytes, 0);
        if (bySize) result.deletedBySize += deleted;
        else result.deletedByAge += deleted;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      logger.error({ code: 'EW_SERVER_RETENTION', err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'retention pass failed; the next pass tries again');
    }
    if (result.batches > 0) {
      logger.info({ ...result, longestBatchMs: Math.round(result.longestBatchMs * 100) / 100, durationMs: Math.round(performance.now() - startedMs) }, 'retention: old predictions deleted');
    }
    return result;
  }

  /**
   * The candidates of a batch whose rows are gone, when the database kept some (a review landed after the batch was
   * selected; rows another replica deleted are gone too). Looked up only then, one row at a time: a rare path.
   */
  async #rowsGone(batch: readonly RetentionCandidate[]): Promise<RetentionCandidate[]> {
    const gone: RetentionCandidate[] = [];
    for (const r of batch) if ((await this.#o.store.get(r.id)) === undefined) gone.push(r);
    return gone;
  }

  /** Unlinks the files of deleted rows, then the day folders they leave empty. A file that cannot go is logged (the start sweep tries again). */
  async #removeFiles(batch: readonly RetentionCandidate[]): Promise<void> {
    const { datalake, logger } = this.#o;
    for (let i = 0; i < batch.length; i += UNLINK_CONCURRENCY) {
      await Promise.all(
        batch.slice(i, i + UNLINK_CONCURRENCY).map((r) =>
          datalake.remove(r.imagePath).catch((err: unknown) => {
            logger.warn({ code: 'EW_SERVER_RETENTION', path: r.imagePath, err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'retention could not delete a datalake file; remove it by hand');
          }),
        ),
      );
    }
    await datalake.removeEmptyFolders(batch.map((r) => r.imagePath));
  }
}
