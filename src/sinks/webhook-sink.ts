/** The webhook sink: each record POSTed as JSON (undici), `Idempotency-Key: <image id>`; 2xx delivered, 408/429/5xx and network errors retried, other statuses refused (dead letter). */
import { Agent, request } from 'undici';
import { parseRetryAfter } from '../monitor/backoff.js';
import type { SinkRow } from '../state/sink-queue.js';
import { AGENT_VERSION } from '../version.js';
import { loggableUrl, type DeliveryOutcome, type SinkTarget } from './sink.js';

export interface WebhookOptions {
  url: string;
  requestTimeoutMs: number;
  /** Aborts requests in flight when the agent stops. */
  signal: AbortSignal;
}

const RETRIED_STATUSES = new Set([408, 425, 429]);

/** Transport failures that mean the endpoint was not reached (it is down or unknown): they do not use up a record's attempts. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export class WebhookSink implements SinkTarget {
  readonly name = 'webhook';
  readonly batchSize = 16;
  readonly #o: WebhookOptions;
  readonly #dispatcher: Agent;

  constructor(options: WebhookOptions) {
    this.#o = options;
    this.#dispatcher = new Agent({ connections: 2, connectTimeout: options.requestTimeoutMs, headersTimeout: options.requestTimeoutMs, bodyTimeout: options.requestTimeoutMs });
  }

  async deliver(rows: readonly SinkRow[]): Promise<DeliveryOutcome[]> {
    const out: DeliveryOutcome[] = [];
    for (const row of rows) {
      const outcome = await this.#post(row);
      out.push(outcome);
      // The endpoint is down or busy: the rest of the batch waits for the retry.
      if (outcome.kind === 'retry') break;
    }
    while (out.length < rows.length) out.push({ kind: 'untried' });
    return out;
  }

  async #post(row: SinkRow): Promise<DeliveryOutcome> {
    const where = loggableUrl(this.#o.url);
    try {
      const res = await request(this.#o.url, {
        method: 'POST',
        dispatcher: this.#dispatcher,
        headers: { 'content-type': 'application/json', 'idempotency-key': row.imageId, 'user-agent': `edgewatch/${AGENT_VERSION}` },
        body: row.record,
        signal: AbortSignal.any([this.#o.signal, AbortSignal.timeout(this.#o.requestTimeoutMs)]),
      });
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { kind: 'delivered' };
      const message = `the webhook ${where} answered ${status}`;
      if (status >= 500 || RETRIED_STATUSES.has(status)) {
        const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
        return { kind: 'retry', code: 'EW_SINK_HTTP', message, ...(retryAfterMs === null ? {} : { retryAfterMs }) };
      }
      return { kind: 'refused', code: 'EW_SINK_HTTP', message: `${message}: refused for good (fix the endpoint, then \`edgewatch outbox retry\` resends it)` };
    } catch (err) {
      const code = (err as { code?: string }).code;
      return { kind: 'retry', code: 'EW_SINK_HTTP', message: `cannot reach the webhook ${where}: ${code ?? (err as Error).name}`, unreachable: code !== undefined && UNREACHABLE.has(code) };
    }
  }

  /** Called once the delivery loop stopped (or its deadline passed): a request still in flight is cut, its record stays queued. */
  async close(): Promise<void> {
    await this.#dispatcher.destroy().catch(() => undefined);
  }
}
