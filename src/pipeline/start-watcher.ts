/** Starts watching the configured folders, skipping what the ledger already handled and the folders edgewatch writes to. */
import { resolve } from 'node:path';
import { watchFolders, type AgentConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Ledger } from '../state/ledger.js';
import { countBacklog, FolderWatcher } from '../watch/index.js';
import { processedDirFor, rejectedDirFor } from './file-destinations.js';

/** A started watcher and what it watches. */
export interface StartedWatcher {
  watcher: FolderWatcher;
  /** Counts the files present that are still to be processed (walks the folders). */
  countBacklog: () => Promise<number>;
}

/** Checks the folders (EW_WATCH_FOLDER when one is unusable), starts their watch (or the one-off scan with `once`) and logs folder failures and returns. */
export async function startWatcher(config: AgentConfig, ledger: Ledger, logger: Logger): Promise<StartedWatcher> {
  const folders = watchFolders(config).map((f) => ({ ...f, path: resolve(f.path) }));
  const ignorePaths = [...folders.flatMap((f) => [rejectedDirFor(config, f.path), processedDirFor(config, f.path)]), config.stateDir].map((p) => resolve(p));
  const watcher = new FolderWatcher({
    folders,
    extensions: config.extensions,
    stableMs: config.stableMs,
    ignorePaths,
    capacity: Math.max(8, config.concurrency * 4),
    watch: !config.once,
    eager: config.eager,
    scanEveryMs: config.pollMs,
    isDone: (f) => ledger.isDone(f.path, f.sizeBytes, f.mtimeMs),
  });
  watcher.on('folderError', (err) => logger.error({ code: err.code, folder: err.details.path }, err.message));
  watcher.on('folderRestored', ({ path }) => logger.info({ folder: path }, 'watched folder is back: watching it again'));
  let linkSkipped = false;
  watcher.on('skipped', ({ path, reason }) => {
    if (reason !== 'symlink' || linkSkipped) return;
    linkSkipped = true; // once per run: a folder of links would otherwise log every one
    logger.warn({ file: path }, 'a symbolic link in a watched folder was skipped (and any later ones will be, silently); set --follow-symlinks to read links to files');
  });
  try {
    await watcher.start();
  } catch (err) {
    await watcher.close();
    throw err;
  }
  logger.info({ folders: folders.map((f) => f.path), once: config.once }, config.once ? 'processing the files present' : 'watching');
  return { watcher, countBacklog: () => countBacklog(folders, config.extensions, ignorePaths, (path, size, mtime) => ledger.isDone(path, size, mtime)) };
}
