/**
 * Every replica follows the champion/shadow the database names: a change commits a NOTIFY on `edgewatch_models`
 * (pg-registry.ts `setModels`), and each replica LISTENs on its own connection and re-reads that deployment's current
 * period when it hears one, so a monitor call arriving afterwards is stamped with the new versions (within the NOTIFY's
 * delivery, milliseconds; no query on the monitor path). Why not a TTL cache: it would stamp predictions with the old
 * versions for up to the TTL after every promotion, or cost a query per monitor call with a TTL short enough.
 * Notifications are lost while the listening connection is down: on every (re)connection, and every `resyncMs` as a
 * safety net, every deployment is re-read.
 */
import type pg from 'pg';
import type { ServerLogger } from '../context.js';
import { MODELS_CHANNEL } from './pg-registry.js';
import type { PgSql } from './pg-store.js';

/** Called with a deployment id to re-read, or null for all of them. */
export type AssignmentChanged = (deploymentId: string | null) => Promise<void>;

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;
/** Re-read everything this often even without a notification (a notification lost with a connection). */
export const RESYNC_MS = 60_000;

export class ModelAssignmentListener {
  readonly #sql: PgSql;
  readonly #changed: AssignmentChanged;
  readonly #logger: ServerLogger;
  #client: pg.Client | null = null;
  #closed = false;
  #retryMs = RECONNECT_MIN_MS;
  #retryTimer: NodeJS.Timeout | null = null;
  readonly #resync: NodeJS.Timeout;

  constructor(sql: PgSql, changed: AssignmentChanged, logger: ServerLogger, resyncMs = RESYNC_MS) {
    this.#sql = sql;
    this.#changed = changed;
    this.#logger = logger;
    this.#resync = setInterval(() => this.#reload(null), resyncMs);
    this.#resync.unref();
  }

  /** Connects and listens; a failure here is retried in the background (the service starts with what it read). */
  async start(): Promise<void> {
    await this.#connect();
  }

  #reload(deploymentId: string | null): void {
    this.#changed(deploymentId).catch((err: unknown) => {
      this.#logger.warn({ code: 'EW_SERVER_DATABASE', err: { message: (err as Error).message } }, 'could not re-read the champion/shadow of the deployments; retried on the next change or resync');
    });
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = this.#sql.dedicatedClient();
    client.on('notification', (n) => {
      if (n.channel === MODELS_CHANNEL && typeof n.payload === 'string') this.#reload(n.payload);
    });
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${MODELS_CHANNEL}`);
    } catch (err) {
      this.#lost(client, err as Error);
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#retryMs = RECONNECT_MIN_MS;
    // Changes made while this replica was not listening.
    this.#reload(null);
  }

  #lost(client: pg.Client, err: Error): void {
    if (this.#client === client) this.#client = null;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.#closed || this.#retryTimer !== null) return;
    this.#logger.warn({ code: 'EW_SERVER_DATABASE', err: { message: err.message } }, `lost the PostgreSQL connection that hears champion/shadow changes; reconnecting in ${this.#retryMs} ms`);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, this.#retryMs);
    this.#retryTimer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RECONNECT_MAX_MS);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#resync);
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = null;
    if (client !== null) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
