/** What a result sink is to the delivery loop: a name, a batch size and one delivery attempt per batch. */
import type { ErrorCode } from '../errors.js';
import type { SinkRow } from '../state/sink-queue.js';

/**
 * The outcome of delivering one record: done, failed (retry later or give up now), or not tried in
 * this round. A retry with `unreachable` (connection refused, broker not connected, disk full) says
 * the sink is down, not that this record fails: it does not count toward `--sink-max-attempts`.
 */
export type DeliveryOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; code: ErrorCode; message: string; retryAfterMs?: number; unreachable?: boolean }
  | { kind: 'refused'; code: ErrorCode; message: string }
  | { kind: 'untried' };

export interface SinkTarget {
  /** `sidecar`, `jsonl`, `webhook` or `mqtt`: the key of its queue in the state database. */
  readonly name: string;
  /** Records handed to `deliver` at once. */
  readonly batchSize: number;
  /** Delivers `rows` (oldest first); one outcome per row, in order. Must not throw for delivery failures. */
  deliver(rows: readonly SinkRow[]): Promise<DeliveryOutcome[]>;
  /** Releases connections and files. Idempotent. */
  close(): Promise<void>;
}

/** A URL as it may be logged: no user, password, query or fragment (tokens live there). */
export function loggableUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** A file-system failure that is the disk's, not the record's (full, quota, read-only, I/O): the local sink is down. */
export function diskDown(err: unknown): boolean {
  return ['ENOSPC', 'EDQUOT', 'EROFS', 'EIO'].includes((err as { code?: string }).code ?? '');
}
