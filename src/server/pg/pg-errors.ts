/** Failures of the PostgreSQL store mapped once: an unreachable or overloaded database becomes `EW_SERVER_DATABASE` (answered 503). */
import { EdgewatchError } from '../../errors.js';

/** `url` without its password (database URLs may hold one; it never reaches a log or an error). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** SQLSTATE classes of a database that cannot answer now: connection (08), resources (53), shutdown (57), system (58), and the transaction conflicts (40) left after retries. */
const UNAVAILABLE_CLASSES = new Set(['08', '40', '53', '57', '58']);

/** True when `err` says the database is unreachable or busy rather than that the query is wrong. */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_CLASSES.has(code.slice(0, 2));
  // Node's socket errors (ECONNREFUSED, ECONNRESET...) and pg's own ("Connection terminated", "timeout exceeded when trying to connect").
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  return err instanceof Error && /connection|terminated|timeout exceeded/i.test(err.message);
}

/** SQLSTATE of a deadlock or a serialization failure: the transaction may be run again. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '40P01' || code === '40001';
}

/** `err` as `EW_SERVER_DATABASE` when the database is unavailable; other errors unchanged. */
export function mapPgError(err: unknown, where: string): unknown {
  if (err instanceof EdgewatchError || !isUnavailable(err)) return err;
  const code = (err as { code?: unknown }).code;
  return new EdgewatchError('EW_SERVER_DATABASE', `The PostgreSQL database ${where} cannot answer (${typeof code === 'string' ? code : (err as Error).message}): check that it is running and reachable; calls are answered 503 until it is.`, {
    cause: err,
    details: { code: typeof code === 'string' ? code : undefined },
  });
}
