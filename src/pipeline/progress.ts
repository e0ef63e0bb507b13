/** Progress output: a bar on a TTY (or a line every few seconds otherwise) while a backlog is processed, a periodic activity line in watch mode, and the last line of a run. */
import type { Logger } from '../log.js';
import type { PipelineMetrics } from './metrics.js';
import type { RunSummary } from './run-summary.js';

export interface ProgressOptions {
  total: number;
  /** Files already handled when the count finished. */
  done?: number;
  logger: Logger;
  /** Where the bar is drawn; a bar is drawn only when it is a TTY. */
  stream: NodeJS.WriteStream | NodeJS.WritableStream;
  intervalMs?: number;
}

/** Start-up backfill progress. `close()` is idempotent. */
export class BackfillProgress {
  readonly #o: ProgressOptions;
  readonly #tty: boolean;
  readonly #startedAt = performance.now();
  #done = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ProgressOptions) {
    this.#o = options;
    this.#done = options.done ?? 0;
    this.#tty = (options.stream as NodeJS.WriteStream).isTTY === true;
    this.#timer = setInterval(() => this.#render(), this.#tty ? 250 : (options.intervalMs ?? 10_000));
    this.#timer.unref();
    options.logger.info({ files: options.total }, 'processing the files already in the watched folders');
  }

  /** One more file handled (whatever the outcome). */
  tick(): void {
    this.#done += 1;
    if (this.#done >= this.#o.total) this.close();
  }

  #line(): { text: string; rate: number; etaS: number } {
    const done = Math.min(this.#done, this.#o.total);
    const elapsedS = (performance.now() - this.#startedAt) / 1000;
    const rate = elapsedS > 0 ? done / elapsedS : 0;
    const etaS = rate > 0 ? (this.#o.total - done) / rate : Number.NaN;
    return { text: `${done}/${this.#o.total}`, rate, etaS };
  }

  #render(): void {
    if (this.#closed) return;
    const { text, rate, etaS } = this.#line();
    if (this.#tty) {
      const width = 30;
      const filled = Math.round((Math.min(this.#done, this.#o.total) / Math.max(1, this.#o.total)) * width);
      const eta = Number.isFinite(etaS) ? ` ETA ${Math.ceil(etaS)}s` : '';
      this.#o.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text} ${rate.toFixed(1)}/s${eta}   `);
    } else {
      this.#o.logger.info({ done: Math.min(this.#done, this.#o.total), total: this.#o.total, perSecond: +rate.toFixed(2), etaSeconds: Number.isFinite(etaS) ? Math.ceil(etaS) : undefined }, 'backlog progress');
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#render();
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#tty) this.#o.stream.write('\n');
    const { rate } = this.#line();
    this.#o.logger.info({ done: Math.min(this.#done, this.#o.total), total: this.#o.total, perSecond: +rate.toFixed(2) }, 'backlog processed');
  }
}

/** A stream that is not a TTY and discards writes: progress then goes to the log only. */
const nullStream = { write: () => true } as unknown as NodeJS.WritableStream;

/** Files in the backlog from which progress is shown. */
const MIN_BACKLOG = 20;

/**
 * Counts the backlog in the background (`count`) and, when it holds at least 20 files not yet
 * taken, shows their progress. `tick()` once per file taken; `close()` is idempotent.
 */
export function trackBacklog(o: { count: () => Promise<number>; taken: () => number; logger: Logger; stream?: NodeJS.WritableStream | undefined }): { tick(): void; close(): void } {
  let progress: BackfillProgress | undefined;
  let closed = false;
  o.count()
    .then((total) => {
      if (total >= MIN_BACKLOG && !closed && o.taken() < total) progress = new BackfillProgress({ total, done: o.taken(), logger: o.logger, stream: o.stream ?? nullStream });
    })
    .catch((err: unknown) => o.logger.debug({ err }, 'could not count the backlog'));
  return {
    tick: () => progress?.tick(),
    close: () => {
      closed = true;
      progress?.close();
    },
  };
}

/** Logs one line per interval with what happened in it (watch mode), nothing when idle. */
export function startActivityLog(logger: Logger, metrics: PipelineMetrics, queued: () => number, intervalMs = 30_000): () => void {
  let last = metrics.championMs.count;
  const timer = setInterval(() => {
    const n = metrics.championMs.count - last;
    last = metrics.championMs.count;
    if (n === 0) return;
    logger.info(
      {
        images: n,
        perSecond: +(n / (intervalMs / 1000)).toFixed(2),
        championP50Ms: +metrics.championMs.quantile(0.5).toFixed(2),
        shadowP50Ms: metrics.shadowMs.count ? +metrics.shadowMs.quantile(0.5).toFixed(2) : undefined,
        decodeP50Ms: +metrics.decodeMs.quantile(0.5).toFixed(2),
        sendP50Ms: metrics.sendMs.count ? +metrics.sendMs.quantile(0.5).toFixed(2) : undefined,
        outbox: queued(),
      },
      'activity',
    );
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The agent's last log line: the run's counts, the median of each stage and the peak memory. */
export function logStopped(logger: Logger, metrics: PipelineMetrics, summary: RunSummary | undefined): void {
  const m = metrics.snapshot();
  const p50 = (k: string) => {
    const v = m[k];
    return v && v.n > 0 ? +v.p50.toFixed(2) : undefined;
  };
  logger.info(
    {
      ...summary,
      p50Ms: { read: p50('readMs'), decode: p50('decodeMs'), champion: p50('championMs'), shadow: p50('shadowMs'), send: p50('sendMs'), added: p50('addedMs') },
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    },
    'stopped',
  );
}
