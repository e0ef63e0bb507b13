/** One delivery loop per sink: drains its queue in the state database oldest first, retries with backoff, gives up after `maxAttempts` (dead letter). A sink that is down only waits itself. */
import type { Logger } from '../log.js';
import { LoopWakeup, StateWaiters, withDeadline } from '../loop-signals.js';
import type { SinkQueue, SinkRow } from '../state/sink-queue.js';
import type { DeliveryOutcome, SinkTarget } from './sink.js';

export interface SinkLoopOptions {
  queue: SinkQueue;
  target: SinkTarget;
  /** Delay before attempt `attempt + 1` (attempt counts from 1), ms. */
  backoffMs: (attempt: number) => number;
  maxAttempts: number;
  logger: Logger;
}

/** Counts since start. */
export interface SinkLoopStats {
  delivered: number;
  retries: number;
  dead: number;
}

export class SinkLoop {
  readonly #o: SinkLoopOptions;
  readonly stats: SinkLoopStats = { delivered: 0, retries: 0, dead: 0 };
  #closed = false;
  #busy = false;
  #loop: Promise<void> | undefined;
  readonly #wakeup = new LoopWakeup();
  /** Epoch ms before which no delivery starts: after a failure the whole sink waits (the next record would fail the same way). */
  #pausedUntilMs = 0;
  readonly #settled = new StateWaiters(() => this.#isSettled());
  /** Rounds in a row with a failure: the sink's own backoff (a record's attempts count only failures where the sink was reached). */
  #failedRounds = 0;
  #closing: Promise<void> | undefined;

  constructor(options: SinkLoopOptions) {
    this.#o = options;
  }

  get name(): string {
    return this.#o.target.name;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** There may be new records. */
  wake(): void {
    this.#wakeup.wake();
  }

  /**
   * Resolves once nothing is being delivered and nothing can be delivered now: the queue is empty,
   * or holds only records waiting for a retry (they stay in the state database for later).
   */
  settled(): Promise<void> {
    return this.#settled.wait();
  }

  #isSettled(): boolean {
    if (this.#closed) return true;
    if (this.#busy) return false;
    return this.#pausedUntilMs > Date.now() || this.#o.queue.due(this.name, 1).length === 0;
  }

  async #run(): Promise<void> {
    const { queue, target, logger } = this.#o;
    while (!this.#closed) {
      const pausedMs = this.#pausedUntilMs - Date.now();
      if (pausedMs <= 0) {
        let rows: SinkRow[];
        try {
          rows = queue.due(target.name, target.batchSize);
        } catch (err) {
          logger.error({ err, sink: target.name }, 'cannot read the sink queue');
          rows = [];
        }
        if (rows.length > 0) {
          this.#busy = true;
          try {
            await this.#round(rows);
          } finally {
            this.#busy = false;
          }
          continue;
        }
      }
      this.#settled.notify();
      let dueIn: number | null;
      try {
        dueIn = pausedMs > 0 ? pausedMs / 1000 : queue.nextDueIn(target.name);
      } catch {
        dueIn = 1;
      }
      await this.#wakeup.sleep(dueIn === null ? null : Math.max(5, dueIn * 1000));
    }
    this.#settled.notify();
  }

  async #round(rows: SinkRow[]): Promise<void> {
    const { queue, target, logger, maxAttempts } = this.#o;
    let outcomes: DeliveryOutcome[];
    try {
      outcomes = await target.deliver(rows);
    } catch (err) {
      outcomes = rows.map(() => ({ kind: 'retry', code: 'EW_SINK_WRITE', message: (err as Error).message }) as const);
    }
    const delivered: string[] = [];
    const retry: { imageId: string; delaySeconds: number; message: string; counted: boolean }[] = [];
    const dead: { imageId: string; code: string; message: string }[] = [];
    let pauseMs = 0;
    rows.forEach((row, i) => {
      const outcome = outcomes[i] ?? { kind: 'untried' };
      if (outcome.kind === 'delivered') delivered.push(row.imageId);
      else if (outcome.kind === 'refused') dead.push({ imageId: row.imageId, code: outcome.code, message: outcome.message });
      else if (outcome.kind === 'retry') {
        const counted = outcome.unreachable !== true;
        const attempt = row.attempts + (counted ? 1 : 0);
        if (counted && attempt >= maxAttempts) {
          dead.push({ imageId: row.imageId, code: outcome.code, message: `gave up after ${attempt} attempts: ${outcome.message}` });
          return;
        }
        const delayMs = Math.max(this.#o.backoffMs(Math.max(attempt, this.#failedRounds + 1)), outcome.retryAfterMs ?? 0);
        retry.push({ imageId: row.imageId, delaySeconds: delayMs / 1000, message: outcome.message, counted });
        pauseMs = Math.max(pauseMs, delayMs);
        // One line per failing round while the sink is reached; once per outage while it is down.
        if (retry.length === 1 && (counted || this.#failedRounds === 0)) {
          logger.warn({ sink: target.name, code: outcome.code, imageId: row.imageId.slice(0, 12), attempt, retryInMs: Math.round(delayMs) }, `sink delivery failed, will retry: ${outcome.message}`);
        }
      }
    });
    try {
      queue.settle(target.name, { delivered, retry, dead });
    } catch (err) {
      // E.g. a full disk: the records stay queued and are delivered again later (at least once).
      pauseMs = Math.max(pauseMs, this.#o.backoffMs(1));
      logger.error({ err, sink: target.name }, 'cannot record sink deliveries; they will be repeated');
    }
    this.stats.delivered += delivered.length;
    this.stats.retries += retry.length;
    this.stats.dead += dead.length;
    for (const d of dead) logger.error({ sink: target.name, code: 'EW_SINK_DEAD', reason: d.code, imageId: d.imageId.slice(0, 12) }, `sink record moved to dead letters: ${d.message}`);
    if (retry.length > 0) this.#failedRounds += 1;
    else if (this.#failedRounds > 0) {
      logger.info({ sink: target.name, failedRounds: this.#failedRounds }, 'sink delivering again');
      this.#failedRounds = 0;
    }
    if (pauseMs > 0) this.#pausedUntilMs = Math.max(this.#pausedUntilMs, Date.now() + pauseMs + 1);
  }

  /** Stops after the round in flight (at most `deadlineMs`), then closes the target. Idempotent: the same promise each time. */
  close(deadlineMs = 5_000): Promise<void> {
    this.#closing ??= this.#close(deadlineMs);
    return this.#closing;
  }

  async #close(deadlineMs: number): Promise<void> {
    this.#closed = true;
    this.wake();
    if (this.#loop) await withDeadline(this.#loop, deadlineMs);
    await this.#o.target.close();
    this.#settled.notify();
  }
}
