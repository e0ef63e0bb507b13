/** The service's readiness (`/readyz`): its database takes a write and its data folder's disk is above the floor. */
import Database from 'better-sqlite3';
import type { Readiness } from '../metrics/metrics-server.js';
import type { DiskGuard } from './disk-guard.js';

/** How long a readiness answer is reused (a scraper polling every second costs one probe a second at most). */
const PROBE_MAX_AGE_MS = 1000;

/** Options of `ServiceHealth`. */
export interface ServiceHealthOptions {
  /** `<data-dir>/monitoring.db` */
  dbFile: string;
  /** Probes the database instead of `dbFile` (PostgreSQL): true, or what went wrong. */
  probeDatabase?: (() => Promise<true | string>) | undefined;
  disk: DiskGuard;
  /** Free bytes the disk must keep (`minFreeGb` × 10^9); 0: no floor. */
  minFreeBytes: number;
  /** True once the service is shutting down. */
  closing: () => boolean;
}

/**
 * Probes writability with its own connection: `BEGIN IMMEDIATE` takes SQLite's write lock (refused
 * on a read-only file, folder or file system, or a database that is not one) and is rolled back at
 * once; nothing is written. `close()` is idempotent.
 */
export class ServiceHealth {
  readonly #o: ServiceHealthOptions;
  #db: Database.Database | undefined;
  #last: { atMs: number; answer: Readiness } | undefined;
  #closed = false;

  constructor(options: ServiceHealthOptions) {
    this.#o = options;
  }

  /** 200 (`ready`) when the database takes a write and the disk is above the floor; 503 with the reason otherwise. */
  async readiness(): Promise<Readiness> {
    if (this.#o.closing() || this.#closed) return { ready: false, reason: 'stopping' };
    if (this.#last && performance.now() - this.#last.atMs < PROBE_MAX_AGE_MS) return this.#last.answer;
    const answer = await this.#probe();
    this.#last = { atMs: performance.now(), answer };
    return answer;
  }

  async #probe(): Promise<Readiness> {
    const writable = this.#o.probeDatabase ? await this.#o.probeDatabase() : this.#writable();
    if (writable !== true) return { ready: false, reason: `database not writable: ${writable}` };
    const { disk, minFreeBytes } = this.#o;
    await disk.measure();
    const free = Number.isFinite(disk.freeBytes) ? disk.freeBytes : null;
    if (minFreeBytes > 0 && free !== null && free < minFreeBytes) {
      return { ready: false, reason: 'disk below its floor (--min-free-gb): monitor calls are answered 503 until space is freed', diskFreeBytes: free, minFreeBytes };
    }
    return { ready: true, reason: 'database writable, disk above its floor', diskFreeBytes: free, minFreeBytes };
  }

  /** True, or what went wrong. */
  #writable(): true | string {
    try {
      this.#db ??= new Database(this.#o.dbFile, { fileMustExist: true, timeout: 0 });
      this.#db.exec('BEGIN IMMEDIATE');
      this.#db.exec('ROLLBACK');
      return true;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // Another connection holds the write lock right now: the database does take writes.
      if (code === 'SQLITE_BUSY') return true;
      this.#db?.close();
      this.#db = undefined;
      return typeof code === 'string' ? code : (err as Error).message;
    }
  }

  close(): void {
    this.#closed = true;
    this.#db?.close();
    this.#db = undefined;
  }
}
