/** Reading a FolderWatcher in tests: `next()` with a deadline, and draining it to the end. */
import type { FolderWatcher, WatchedFile } from '../../src/watch/index.js';

/** `next()` with a deadline. */
export async function nextFile(watcher: FolderWatcher, timeoutMs = 15_000): Promise<WatchedFile | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out waiting for next()')), timeoutMs);
  });
  try {
    return await Promise.race([watcher.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Consumes until `next()` gives null (watch: false); the paths, sorted. */
export async function drain(watcher: FolderWatcher): Promise<string[]> {
  const paths: string[] = [];
  for (let f = await nextFile(watcher); f; f = await nextFile(watcher)) paths.push(f.path);
  return paths.sort();
}
