/** The `meta` table of the state database: small named values that outlive a run (the cached deployment). */
import { cachedStatement } from '../sqlite-statements.js';
import { storeError, type StateDb } from './state-db.js';

/** A string value per key in the state database's `meta` table, read and written synchronously. */
export class MetaStore {
  readonly #db: StateDb;

  constructor(db: StateDb) {
    this.#db = db;
  }

  get(key: string): string | undefined {
    return cachedStatement<[string], { value: string }>(this.#db, 'SELECT value FROM meta WHERE key = ?').get(key)?.value;
  }

  /** Throws EW_DISK_FULL / EW_STORE_OPEN when the value cannot be written. */
  set(key: string, value: string): void {
    try {
      cachedStatement<[string, string]>(this.#db, 'INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value);
    } catch (cause) {
      throw storeError(cause, `remember ${key.split('\n')[0] ?? key}`);
    }
  }
}
