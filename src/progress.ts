/** Progress output: a bar on a TTY (or a line every few seconds otherwise) while a backlog is processed, and a periodic activity line in watch mode. */
import { stat } from 'node:fs/promises';
import type { WatchFolder } from './config/schema.js';
import type { Logger } from './log.js';
import type { PipelineMetrics } from './metrics.js';
import { skipReason, walkFiles } from './watch/index.js';

/** Number of files in `folders` the agent still has to process (present now, matching, not done). */
export async function countBacklog(
  folders: readonly WatchFolder[],
  extensions: readonly string[],
  ignorePaths: readonly string[],
  isDone: (path: string, sizeBytes: number, mtimeMs: number) => boolean,
): Promise<number> {
  const exts = new Set(extensions);
  let n = 0;
  for (const folder of folders) {
    for await (const path of walkFiles(folder.path, folder.recursive, (p) => skipReason(folder.path, p, exts, ignorePaths) !== undefined)) {
      if (skipReason(folder.path, path, exts, ignorePaths) !== undefined) continue;
      const s = await stat(path).catch(() => undefined);
      if (s?.isFile() && !isDone(path, s.size, s.mtimeMs)) n += 1;
    }
  }
  return n;
}

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
