/** When the intake loops may take the next file: not while the outbox is at its cap, not while the state disk is full. Files wait in their folders meanwhile. */
import type { EdgewatchError } from '../errors.js';
import type { Logger } from '../log.js';

export interface IntakeGateOptions {
  /** True while the outbox is at its entry or byte cap (EW_STORE_FULL). */
  outboxFull: () => boolean;
  /** Entries and bytes queued, for the log line. */
  outboxSize: () => { entries: number; bytes: number };
  logger: Logger;
}

/** First pause after the state disk filled up; doubled each time a file fails again after a pause. */
const DISK_FULL_FIRST_PAUSE_MS = 1_000;
const DISK_FULL_MAX_PAUSE_MS = 30_000;

/**
 * Backpressure for the intake loops. Two reasons to hold: the outbox is full (until `roomFreed()`
 * after a delivery), or the state disk is full (a pause shared by every loop: 1 s, doubled each
 * time a file fails again after a pause, up to 30 s; cut short only by `close()`). Each is logged
 * once per episode. `close()` releases every waiter.
 */
export class IntakeGate {
  readonly #o: IntakeGateOptions;
  #roomWaiters: (() => void)[] = [];
  #outboxFullLogged = false;
  /** performance.now() of the first EW_DISK_FULL of the current episode (undefined: the disk has room). */
  #diskFullSince: number | undefined;
  #diskFullPauseMs = DISK_FULL_FIRST_PAUSE_MS;
  #diskPause: { over: Promise<void>; end: () => void } | undefined;
  #closed = false;

  constructor(options: IntakeGateOptions) {
    this.#o = options;
  }

  /** Waits until a file may be taken. False once closed. */
  async beforeTake(): Promise<boolean> {
    while (this.#o.outboxFull() && !this.#closed) {
      if (!this.#outboxFullLogged) {
        this.#outboxFullLogged = true;
        this.#o.logger.warn({ code: 'EW_STORE_FULL', ...this.#o.outboxSize() }, 'outbox full: new files wait in the folder until the monitoring service catches up');
      }
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    }
    this.#outboxFullLogged = false;
    if (this.#diskPause) await this.#diskPause.over;
    return !this.#closed;
  }

  /** After waiting for a file: the disk may have filled up meanwhile. False once closed (the file stays in its folder for the next start). */
  async afterTake(): Promise<boolean> {
    if (this.#diskPause) await this.#diskPause.over;
    return !this.#closed;
  }

  /** A delivery or dead letter left the outbox: loops waiting for room look again. */
  roomFreed(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }

  /** A file went through: if the disk was full, the episode is over. */
  diskWorks(): void {
    if (this.#diskFullSince === undefined) return;
    this.#o.logger.info({ fullForMs: Math.round(performance.now() - this.#diskFullSince) }, 'the state disk has room again: taking files');
    this.#diskFullSince = undefined;
  }

  /** A file failed with EW_DISK_FULL (nothing committed): waits out the current pause, starting one if none runs. */
  async diskFull(err: EdgewatchError, path: string): Promise<void> {
    if (this.#closed) return;
    if (this.#diskPause === undefined) {
      if (this.#diskFullSince === undefined) {
        this.#diskFullSince = performance.now();
        this.#diskFullPauseMs = DISK_FULL_FIRST_PAUSE_MS;
        this.#o.logger.error({ code: err.code, file: path }, `${err.message} New files wait in their folders until it is fixed.`);
      } else {
        this.#diskFullPauseMs = Math.min(DISK_FULL_MAX_PAUSE_MS, this.#diskFullPauseMs * 2);
      }
      let end: () => void = () => undefined;
      const over = new Promise<void>((resolve) => (end = resolve));
      const timer = setTimeout(() => pause.end(), this.#diskFullPauseMs);
      const pause = {
        over,
        end: () => {
          clearTimeout(timer);
          if (this.#diskPause === pause) this.#diskPause = undefined;
          end();
        },
      };
      this.#diskPause = pause;
    }
    await this.#diskPause.over;
  }

  /** Releases every waiter; later calls return at once. Idempotent. */
  close(): void {
    this.#closed = true;
    this.roomFreed();
    this.#diskPause?.end();
  }
}
