/** Lists the files of a folder lazily, so that a scan can pause when the queue is full and resume where it stopped. */
import { opendir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Yields the path of every file and symbolic link in `root`, and in its sub-folders when
 * `recursive`, except folders for which `skipFolder` is true. Links are yielded, never entered (a
 * link to a folder is not walked: no loop, nothing outside the root); the caller decides whether to
 * follow one. Only one directory handle is open at a time; returning the generator early closes it.
 * A sub-folder that vanishes or cannot be read is passed over; a failure on `root` itself is thrown.
 */
export async function* walkFiles(root: string, recursive: boolean, skipFolder: (path: string) => boolean): AsyncGenerator<string, void, undefined> {
  const folders = [root];
  for (let dir = folders.pop(); dir !== undefined; dir = folders.pop()) {
    try {
      for await (const entry of await opendir(dir, { bufferSize: 64 })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (recursive && !skipFolder(path)) folders.push(path);
        } else if (entry.isFile() || entry.isSymbolicLink()) {
          yield path;
        }
      }
    } catch (err) {
      if (dir === root) throw err;
    }
  }
}
