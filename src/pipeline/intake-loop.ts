/** The intake loops: each takes the next stable file from the watcher when the gate allows, and runs it through the pipeline. */
import { isEdgewatchError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FolderWatcher, WatchedFile } from '../watch/index.js';
import type { IntakeGate } from './intake-gate.js';
import { processImage, type ProcessContext, type ProcessOutcome } from './process-image.js';

export interface StartIntakeOptions extends Omit<ProcessContext, 'recheck'> {
  watcher: Pick<FolderWatcher, 'next' | 'recheck'>;
  gate: IntakeGate;
  onOutcome: (outcome: ProcessOutcome, path: string) => void;
}

/** Starts `config.concurrency` intake loops; resolves once all have ended (watcher closed or, with `once`, its scan consumed). */
export function startIntake(o: StartIntakeOptions): Promise<void> {
  const { watcher } = o;
  const ctx: ProcessContext = { ...o, recheck: (file) => watcher.recheck(file) };
  const loop = () =>
    runIntakeLoop({ next: () => watcher.next(), recheck: ctx.recheck, gate: o.gate, process: (file) => processImage(ctx, file), onOutcome: o.onOutcome, logger: o.logger });
  return Promise.all(Array.from({ length: o.config.concurrency }, loop)).then(() => undefined);
}

export interface IntakeLoopOptions {
  /** The watcher's next file; null once it is closed or (`--once`) its scan is consumed. */
  next: () => Promise<WatchedFile | null>;
  /** Hands a file back to the watcher, to be taken again later. */
  recheck: (file: WatchedFile) => void;
  gate: IntakeGate;
  process: (file: WatchedFile) => Promise<ProcessOutcome>;
  onOutcome: (outcome: ProcessOutcome, path: string) => void;
  logger: Logger;
}

/** Runs until the watcher has no more files or the gate is closed. Never throws. */
export async function runIntakeLoop(o: IntakeLoopOptions): Promise<void> {
  for (;;) {
    if (!(await o.gate.beforeTake())) return;
    const file = await o.next();
    if (!file) return;
    if (!(await o.gate.afterTake())) return; // untouched: it stays in its folder for the next start
    let outcome: ProcessOutcome;
    try {
      outcome = await o.process(file);
      o.gate.diskWorks();
    } catch (err) {
      if (isEdgewatchError(err, 'EW_DISK_FULL')) {
        // Nothing was committed for this file: it goes back to the watcher and is read again
        // later; meanwhile no file is taken (they wait in their folder).
        o.recheck(file);
        await o.gate.diskFull(err, file.path);
        continue;
      }
      outcome = 'failed';
      o.logger.error({ err, code: isEdgewatchError(err) ? err.code : undefined, file: file.path }, `could not process ${file.path}: ${(err as Error).message}`);
    }
    o.onOutcome(outcome, file.path);
  }
}
