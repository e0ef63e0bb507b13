/** Prepared statements cached per database and SQL text: better-sqlite3 compiles the SQL again on every `prepare()`. */
import type Database from 'better-sqlite3';

const caches = new WeakMap<Database.Database, Map<string, Database.Statement<unknown[], unknown>>>();

/** `db.prepare(sql)`, compiled once per database (the SQL must be a fixed text or one of a few variants). */
export function cachedStatement<BindParameters extends unknown[] | {} = unknown[], Result = unknown>(
  db: Database.Database,
  sql: string,
): Database.Statement<BindParameters extends unknown[] ? BindParameters : [BindParameters], Result> {
  let cache = caches.get(db);
  if (cache === undefined) {
    cache = new Map();
    caches.set(db, cache);
  }
  let statement = cache.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement as unknown as Database.Statement<BindParameters extends unknown[] ? BindParameters : [BindParameters], Result>;
}
