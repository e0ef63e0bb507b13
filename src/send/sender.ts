/** The sender: drains the outbox with bounded concurrency, retrying with backoff, until each entry is delivered or dead. */
import { isEdgewatchError } from '../errors.js';
import type { Logger } from '../log.js';
import { LoopWakeup, StateWaiters, withDeadline } from '../loop-signals.js';
import type { SendOutcome } from '../monitor/index.js';
import type { Outbox, OutboxEntry } from '../state/outbox.js';

export interface SenderOptions {
  outbox: Outbox;
  /** One attempt at sending the stored bytes. Must not throw for HTTP or network failures. */
  send: (entry: OutboxEntry) => Promise<SendOutcome>;
  concurrency: number;
  /** Delay before attempt `attempt + 1` (attempt counts from 1). */
  backoffMs: (attempt: number) => number;
  /** Sending waits while this returns false (e.g. deployment not resolved yet). */
  isReady?: () => boolean;
  onDelivered?: (entry: OutboxEntry, result: SendOutcome & { kind: 'delivered' | 'duplicate' }) => void;
  onDead?: (entry: OutboxEntry, result: SendOutcome & { kind: 'rejected' }) => void;
  /** Late shadows dropped because the entry they complete left the outbox without a usable prediction id (dead, or 409). */
  onOrphans?: (entry: OutboxEntry, count: number) => void;
  /** Called inside the delivery / dead-letter transaction (ledger state). */
  inTransaction?: { delivered: (entry: OutboxEntry) => void; dead: (entry: OutboxEntry) => void };
  logger: Logger;
}

/** Counters since start. */
export interface SenderStats {
  delivered: number;
  /** Answered 409: the service already had it (a re-send after a lost answer). */
  alreadyMonitored: number;
  retries: number;
  dead: number;
  inFlight: number;
}

export class Sender {
  readonly #o: SenderOptions;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #wakeup = new LoopWakeup();
  #closed = false;
  #loop: Promise<void> | undefined;
  readonly #idle = new StateWaiters(() => this.#inFlight.size === 0 && this.#o.outbox.size.entries === 0);
  /**
   * Epoch ms before which no send starts. Every `retry` outcome (connection failure, timeout, 429,
   * 5xx other than 500) says the service is unavailable, not that this request is bad: all sends wait
   * until the failed entry is due again, so that when the service is back the oldest capture goes
   * first (per-entry backoff alone let younger entries, due sooner, overtake it).
   */
  #pausedUntilMs = 0;
  /** Set while the service answers redirects (a configuration error): logged once, cleared by the next delivery. */
  #redirected = false;
  readonly stats: SenderStats = { delivered: 0, alreadyMonitored: 0, retries: 0, dead: 0, inFlight: 0 };

  constructor(options: SenderOptions) {
    this.#o = options;
  }

  /** Starts draining. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Tells the sender there may be new work (a new entry, the service became ready). */
  wake(): void {
    this.#wakeup.wake();
  }

  /** Resolves when the outbox holds nothing due or queued and nothing is in flight. */
  idle(): Promise<void> {
    return this.#idle.wait();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const ready = this.#o.isReady?.() ?? true;
      const pausedMs = this.#pausedUntilMs - Date.now();
      const room = this.#o.concurrency - this.#inFlight.size;
      let started = 0;
      if (ready && room > 0 && pausedMs <= 0) {
        for (const entry of this.#o.outbox.due(room, new Set(this.#inFlight.keys()))) {
          const p = this.#attempt(entry).finally(() => {
            this.#inFlight.delete(entry.imageId);
            this.stats.inFlight = this.#inFlight.size;
            this.#idle.notify();
            this.wake();
          });
          this.#inFlight.set(entry.imageId, p);
          started += 1;
        }
        this.stats.inFlight = this.#inFlight.size;
      }
      this.#idle.notify();
      if (started > 0 && this.#inFlight.size < this.#o.concurrency) continue;
      const dueIn = !ready ? null : pausedMs > 0 ? pausedMs / 1000 : this.#o.outbox.nextDueIn();
      await this.#wakeup.sleep(dueIn === null ? null : Math.max(5, dueIn * 1000));
    }
  }

  async #attempt(entry: OutboxEntry): Promise<void> {
    const { outbox, logger } = this.#o;
    let result: SendOutcome;
    try {
      result = await this.#o.send(entry);
    } catch (err) {
      result = { kind: 'retry', status: null, message: (err as Error).message, retryAfterMs: null, code: isEdgewatchError(err) ? err.code : 'EW_MONITOR_CONNECT' };
    }
    try {
      if (result.kind === 'delivered' || result.kind === 'duplicate') {
        const orphans = outbox.markDelivered(entry.imageId, result.status, result.kind === 'delivered' ? result.id : null, () => this.#o.inTransaction?.delivered(entry));
        if (orphans > 0) this.#o.onOrphans?.(entry, orphans);
        if (result.kind === 'delivered') this.stats.delivered += 1;
        else this.stats.alreadyMonitored += 1;
        if (this.#redirected) {
          this.#redirected = false;
          logger.info({ imageId: entry.imageId.slice(0, 12) }, 'the monitoring service answers without a redirect: sending again');
        }
        this.#o.onDelivered?.(entry, result);
      } else if (result.kind === 'retry') {
        const attempt = entry.attempts + 1;
        const delayMs = Math.max(this.#o.backoffMs(attempt), result.retryAfterMs ?? 0);
        outbox.markRetry(entry.imageId, delayMs / 1000, result.status, result.message);
        // Read the clock after markRetry (and add 1 ms): the pause ends after this entry is due again.
        this.#pausedUntilMs = Math.max(this.#pausedUntilMs, Date.now() + delayMs + 1);
        this.stats.retries += 1;
        const fields = { imageId: entry.imageId.slice(0, 12), attempt, status: result.status, code: result.code, retryInMs: Math.round(delayMs) };
        if (result.code !== 'EW_MONITOR_REDIRECT') {
          logger.warn(fields, `send failed, will retry: ${result.message}`);
        } else if (this.#redirected) {
          logger.debug(fields, 'still redirected; sending stays paused');
        } else {
          // A redirect is the configuration's fault, not the image's: nothing is dead-lettered, the queue
          // pauses (retried with backoff, in case a proxy is fixed meanwhile) and the reason is logged once.
          this.#redirected = true;
          logger.error(fields, `sending paused, every prediction stays in the outbox: ${result.message}`);
        }
      } else {
        const orphans = outbox.markDead(entry.imageId, result.status, result.code, result.message, () => this.#o.inTransaction?.dead(entry));
        if (orphans > 0) this.#o.onOrphans?.(entry, orphans);
        this.stats.dead += 1;
        logger.error({ imageId: entry.imageId.slice(0, 12), status: result.status, code: result.code }, `prediction rejected by the monitoring service, moved to dead letters: ${result.message}`);
        this.#o.onDead?.(entry, result);
      }
    } catch (err) {
      // E.g. a full disk: the entry stays queued and is sent again (409 if it was stored) once the
      // pause is over, instead of at once in a loop.
      const pauseMs = this.#o.backoffMs(entry.attempts + 1);
      this.#pausedUntilMs = Math.max(this.#pausedUntilMs, Date.now() + pauseMs);
      logger.error({ err, code: (err as { code?: string }).code, imageId: entry.imageId.slice(0, 12), retryInMs: Math.round(pauseMs) }, 'cannot record a send outcome; the entry stays queued');
    }
  }

  /** Stops starting sends; waits up to `deadlineMs` for those in flight. Idempotent. */
  async close(deadlineMs = 5_000): Promise<void> {
    this.#closed = true;
    this.wake();
    await this.#loop;
    await withDeadline(Promise.allSettled([...this.#inFlight.values()]), deadlineMs);
    this.#idle.releaseAll();
  }
}
