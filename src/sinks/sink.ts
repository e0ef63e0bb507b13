/** What a result sink is to the delivery loop: a name, a batch size and one delivery attempt per batch. */
import type { ErrorCode } from '../errors.js';
import type { SinkRow } from '../state/sink-queue.js';

/** The outcome of delivering one record: done, failed (retry later or give up now), or not tried in this round. */
export type DeliveryOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; code: ErrorCode; message: string; retryAfterMs?: number }
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
