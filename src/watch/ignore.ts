/** Which paths the watcher ignores: hidden, temporary, other extensions, anything under an ignored folder, and symbolic links unless followed. */
import type { Stats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { basename, extname, isAbsolute, relative, sep } from 'node:path';

/** Why a path was not queued. */
export type SkipReason = 'hidden' | 'temporary' | 'extension' | 'ignored-path' | 'vanished' | 'unreadable' | 'not-a-file' | 'symlink' | 'done' | 'unchanged';

/** The stats of `path`: of the file a link points to when following links, else of the link itself (then `isSymbolicLink()`). */
export function statEntry(path: string, followSymlinks: boolean | undefined): Promise<Stats> {
  return followSymlinks === true ? stat(path) : lstat(path);
}

/** Why an entry that is not a regular file is passed over. */
export function notAFileReason(stats: Stats): 'symlink' | 'not-a-file' {
  return stats.isSymbolicLink() ? 'symlink' : 'not-a-file';
}

/** Suffixes of files still being written by browsers, downloaders, copy tools and editors. */
const TEMPORARY_SUFFIXES = ['.tmp', '.temp', '.part', '.partial', '.crdownload', '.download', '.swp', '~'];

/** True when `path` is `dir` or inside it (both absolute and resolved). */
export function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** Path segments of `path` below `root` (empty for the root itself and for paths outside it). */
function segmentsBelow(root: string, path: string): string[] {
  const rel = relative(root, path);
  return rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? [] : rel.split(sep);
}

/** True when a folder below `root` on the way to `path` (not `path` itself) is hidden. */
export function hasHiddenParent(root: string, path: string): boolean {
  return segmentsBelow(root, path).slice(0, -1).some((s) => s.startsWith('.'));
}

/**
 * Why the file at `path`, found under the watched `root`, must not be queued, or undefined when it
 * is a candidate. `extensions` are lower-case with their dot.
 */
export function skipReason(root: string, path: string, extensions: ReadonlySet<string>, ignorePaths: readonly string[]): SkipReason | undefined {
  if (ignorePaths.some((dir) => isUnder(path, dir))) return 'ignored-path';
  const name = basename(path);
  if (name.startsWith('.') || hasHiddenParent(root, path)) return 'hidden';
  const lower = name.toLowerCase();
  if (lower.startsWith('~') || TEMPORARY_SUFFIXES.some((s) => lower.endsWith(s))) return 'temporary';
  if (!extensions.has(extname(lower))) return 'extension';
  return undefined;
}

/** Why a file whose stat failed is passed over: `vanished` when it no longer exists, `unreadable` otherwise. */
export function statFailureReason(err: unknown): 'vanished' | 'unreadable' {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'vanished' : 'unreadable';
}
