/** A file the read stage refused: vanished, still being written (handed back), or bad (moved to the rejected folder). */
import { stat } from 'node:fs/promises';
import { isEdgewatchError, type EdgewatchError, type ErrorCode } from '../errors.js';
import { rejectFile } from '../read/index.js';
import type { WatchedFile } from '../watch/index.js';
import { rejectedDirFor } from './file-destinations.js';
import type { ProcessContext } from './process-image.js';

/** What the bad-file path needs of the pipeline's context. */
export type UnreadableContext = Pick<ProcessContext, 'config' | 'logger' | 'recheck'>;

/** Its verdict: each maps to one ledger transition (none for `changed`). */
export type UnreadableVerdict = { outcome: 'changed' } | { outcome: 'vanished' | 'rejected'; code: ErrorCode; reason: string };

/** Failures that a file still being written also produces: on an eager (unsettled) read they mean "not yet". */
const INCOMPLETE_SIGNS: ReadonlySet<ErrorCode> = new Set(['EW_IMAGE_EMPTY', 'EW_IMAGE_TRUNCATED', 'EW_IMAGE_CORRUPT', 'EW_IMAGE_UNSUPPORTED']);

/** A read that failed: the file vanished, is still being written, or is bad (set aside). */
export async function unreadable(ctx: UnreadableContext, file: WatchedFile, err: EdgewatchError): Promise<UnreadableVerdict> {
  const { logger } = ctx;
  if (err.code === 'EW_WATCH_VANISHED') {
    logger.info({ code: err.code, file: file.path }, 'file vanished before it could be read; skipped');
    return { outcome: 'vanished', code: err.code, reason: err.message };
  }
  if (!file.settled && INCOMPLETE_SIGNS.has(err.code)) {
    logger.debug({ file: file.path, code: err.code }, 'not a complete image yet; waiting for the file to settle');
    ctx.recheck(file);
    return { outcome: 'changed' };
  }
  if (err.code === 'EW_IMAGE_TRUNCATED' || err.code === 'EW_IMAGE_EMPTY') {
    // A writer that paused longer than stableMs: if the file changed since, the watcher yields it again.
    const now = await stat(file.path).catch(() => undefined);
    if (now && (now.size !== file.sizeBytes || now.mtimeMs !== file.mtimeMs)) {
      logger.debug({ file: file.path }, 'file still being written; waiting for it to settle');
      return { outcome: 'changed' };
    }
  }
  return setAside(ctx, file, err);
}

/** Moves a bad file to the rejected folder; the verdict says whether it was (or could not be) moved, or vanished meanwhile. */
async function setAside(ctx: UnreadableContext, file: WatchedFile, err: EdgewatchError): Promise<UnreadableVerdict> {
  const dir = rejectedDirFor(ctx.config, file.folder.path);
  try {
    const moved = await rejectFile(file.path, dir, err);
    ctx.logger.warn({ code: err.code, file: file.path, movedTo: moved.movedTo }, `rejected: ${err.message}`);
    return { outcome: 'rejected', code: err.code, reason: err.message };
  } catch (moveErr) {
    if (isEdgewatchError(moveErr, 'EW_WATCH_VANISHED')) {
      ctx.logger.info({ code: moveErr.code, file: file.path }, 'bad file vanished before it could be moved aside');
      return { outcome: 'vanished', code: moveErr.code, reason: moveErr.message };
    }
    const code = isEdgewatchError(moveErr) ? moveErr.code : 'EW_REJECT_MOVE';
    ctx.logger.error({ code, file: file.path, reason: err.code }, `rejected, but could not move it to ${dir}: ${(moveErr as Error).message}`);
    return { outcome: 'rejected', code: err.code, reason: `${err.message} (could not move it: ${(moveErr as Error).message})` };
  }
}
