/** The backlog count for the progress bar: the files of the watched folders still to process, found by the watcher's own scan. */
import type { WatchFolder } from '../config/schema.js';
import { statEntry } from './ignore.js';
import { scanFolder, scanRules } from './scan.js';

/**
 * Number of files in `folders` the agent still has to process: present now, candidates for the
 * watcher (same sub-folders entered, same files kept, as `scanFolder` decides), and not done for
 * `isDone`. Rejects when a folder cannot be read.
 */
export async function countBacklog(
  folders: readonly WatchFolder[],
  extensions: readonly string[],
  ignorePaths: readonly string[],
  isDone: (path: string, sizeBytes: number, mtimeMs: number) => boolean,
): Promise<number> {
  let count = 0;
  for (const folder of folders) {
    const rules = scanRules(folder, extensions, ignorePaths);
    for await (const file of scanFolder(rules)) {
      if (file.skip !== undefined) continue;
      const stats = await statEntry(file.path, rules.followSymlinks).catch(() => undefined);
      if (stats?.isFile() && !isDone(file.path, stats.size, stats.mtimeMs)) count += 1;
    }
  }
  return count;
}
