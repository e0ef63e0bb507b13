/** Where files go once handled: bad files to the rejected folder, delivered ones (with `afterDelivery: move`) to the processed folder. */
import { mkdir, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';

/** Where a bad file from `folder` goes. */
export function rejectedDirFor(config: Pick<AgentConfig, 'rejectedDir'>, folder: string): string {
  return config.rejectedDir ?? join(folder, 'rejected');
}

/** Where a delivered file from `folder` goes with `afterDelivery: move`. */
export function processedDirFor(config: Pick<AgentConfig, 'processedDir'>, folder: string): string {
  return config.processedDir ?? join(folder, 'processed');
}

/**
 * Applies `afterDelivery` to a delivered file: keep it, delete it or move it to the processed
 * folder. Never throws: a file that cannot be moved or deleted is logged and left where it is.
 */
export async function afterDelivery(config: Pick<AgentConfig, 'afterDelivery' | 'processedDir'>, file: { path: string; folder: string }, logger: Logger): Promise<void> {
  const mode = config.afterDelivery;
  if (mode === 'keep') return;
  try {
    if (mode === 'delete') {
      await unlink(file.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    } else {
      const dir = processedDirFor(config, file.folder);
      await mkdir(dir, { recursive: true });
      await rename(file.path, join(dir, basename(file.path)));
    }
  } catch (err) {
    logger.warn({ file: file.path, err }, `delivered, but could not ${mode} the file: ${(err as Error).message}`);
  }
}
