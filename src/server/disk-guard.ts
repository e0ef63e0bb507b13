/** Free space of the data folder's disk, checked at most once a second: below the floor, monitor calls are answered 503 instead of failing a write. */
import { statfs } from 'node:fs/promises';
import type { ServerLogger } from './context.js';
import { HttpError } from './http-util.js';

/** Seconds a client is told to wait (`Retry-After`) when the disk is low; agents keep the prediction in their outbox meanwhile. */
export const DISK_RETRY_AFTER_S = 30;

/** The 503 of a disk too full to store a prediction, with `Retry-After` and code `EW_SERVER_DISK_LOW`. */
export function diskLowError(detail: string): HttpError {
  return new HttpError(503, `The monitoring service's disk is nearly full (${detail}); the prediction was not stored: retry later.`, { code: 'EW_SERVER_DISK_LOW' }, { 'retry-after': String(DISK_RETRY_AFTER_S) });
}

/** True for the errors of a write that found no space: the file system's, and SQLite's "database or disk is full". */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

/** Options of `DiskGuard`. */
export interface DiskGuardOptions {
  folder: string;
  /** Free bytes the disk must keep; 0 turns the check off. */
  minFreeBytes: number;
  logger: ServerLogger;
  /** How old a measure may be before the next request measures again. */
  maxAgeMs?: number;
}

/**
 * Measures free space (`statfs`, bytes available to this user) when a request finds the last
 * measure older than `maxAgeMs`; requests meanwhile share one measure. No timer: an idle service
 * measures nothing.
 */
export class DiskGuard {
  readonly #folder: string;
  readonly #minFreeBytes: number;
  readonly #logger: ServerLogger;
  readonly #maxAgeMs: number;
  #freeBytes = Number.POSITIVE_INFINITY;
  #measuredMs = Number.NEGATIVE_INFINITY;
  #measuring: Promise<void> | null = null;
  #low = false;

  constructor(options: DiskGuardOptions) {
    this.#folder = options.folder;
    this.#minFreeBytes = options.minFreeBytes;
    this.#logger = options.logger;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
  }

  /** Free bytes at the last measure (Infinity before the first, or when the file system cannot say). */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** Throws the 503 `diskLowError` when the disk has less free space than the floor. */
  async requireSpace(): Promise<void> {
    if (this.#minFreeBytes <= 0) return;
    if (performance.now() - this.#measuredMs > this.#maxAgeMs) await this.measure();
    if (this.#freeBytes < this.#minFreeBytes) throw diskLowError(`${formatGb(this.#freeBytes)} free, the floor is ${formatGb(this.#minFreeBytes)}`);
  }

  /** Measures now (shared with a measure already running). */
  measure(): Promise<void> {
    this.#measuring ??= (async () => {
      try {
        const s = await statfs(this.#folder);
        this.#freeBytes = Number(s.bavail) * Number(s.bsize);
      } catch (err) {
        // A file system that cannot say (or a folder gone): never refuse for that, the write itself will tell.
        this.#logger.warn({ code: 'EW_SERVER_DISK_LOW', err: { message: (err as Error).message, code: (err as { code?: unknown }).code } }, 'cannot measure the free space of the data folder');
        this.#freeBytes = Number.POSITIVE_INFINITY;
      } finally {
        this.#measuredMs = performance.now();
        this.#measuring = null;
      }
      const low = this.#freeBytes < this.#minFreeBytes;
      if (low !== this.#low) {
        this.#low = low;
        if (low) this.#logger.warn({ code: 'EW_SERVER_DISK_LOW', freeBytes: this.#freeBytes, minFreeBytes: this.#minFreeBytes }, 'disk nearly full: monitor calls are answered 503 until space is freed');
        else this.#logger.info({ freeBytes: this.#freeBytes }, 'disk space is back above the floor: monitor calls are accepted again');
      }
    })();
    return this.#measuring;
  }
}

function formatGb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(2)} GB`;
}
