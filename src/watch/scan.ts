/** Scanning a watched folder: the one place that decides which sub-folders are entered and which files are candidates, for the watcher and the backlog count alike. */
import type { Stats } from 'node:fs';
import { resolve } from 'node:path';
import type { WatchFolder } from '../config/schema.js';
import { hasHiddenParent, isUnder, skipReason, type SkipReason } from './ignore.js';
import { walkFiles } from './walk.js';

/** What decides, for one watched folder, which of its files are candidates. */
export interface ScanRules {
  /** The watched folder, absolute and resolved. */
  root: string;
  recursive: boolean;
  /** Lower-case, with their dot. */
  extensions: ReadonlySet<string>;
  /** Folders whose contents are never candidates, absolute and resolved. */
  ignorePaths: readonly string[];
  /** Symbolic links to files are candidates; false: they are skipped with reason `symlink`. */
  followSymlinks: boolean;
}

/** A file found by a scan, with why it is not a candidate (`skip` undefined when it is one). */
export interface ScannedFile {
  path: string;
  skip: SkipReason | undefined;
}

/** The rules for `folder`; `extensions` as configured (`jpg` or `.JPG`), `ignorePaths` relative or absolute. */
export function scanRules(folder: WatchFolder, extensions: Iterable<string>, ignorePaths: readonly string[]): ScanRules {
  return {
    root: resolve(folder.path),
    recursive: folder.recursive,
    extensions: new Set([...extensions].map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase())),
    ignorePaths: ignorePaths.map((p) => resolve(p)),
    followSymlinks: folder.followSymlinks === true,
  };
}

/** Why the file at `path` is not a candidate, or undefined when it is one. */
export function fileSkipReason(rules: ScanRules, path: string): SkipReason | undefined {
  return skipReason(rules.root, path, rules.extensions, rules.ignorePaths);
}

/** True when a scan does not enter `dir`, a folder below the root: it is under an ignored path, or it (or a folder above it) is hidden. */
export function skipsFolder(rules: ScanRules, dir: string): boolean {
  return rules.ignorePaths.some((p) => isUnder(dir, p)) || hasHiddenParent(rules.root, `${dir}/x`);
}

/**
 * What a recursive watch (chokidar's `ignored`) leaves out: the folders a scan does not enter and
 * everything in them, and everything outside the root. Hidden or temporary files themselves are not
 * left out: their events are reported as skipped.
 */
export function watchIgnores(rules: ScanRules, path: string, stats?: Stats): boolean {
  // Outside the root: when the root itself is removed, chokidar starts watching its parent for its
  // return, and a close() during that set-up leaves the parent's fs.watch open (the process never
  // exits). The watcher notices a folder coming back by itself (health checks, revival).
  if (!isUnder(path, rules.root)) return true;
  return rules.ignorePaths.some((dir) => isUnder(path, dir)) || hasHiddenParent(rules.root, path) || (stats?.isDirectory() === true && path !== rules.root && skipsFolder(rules, path));
}

/**
 * Every file of the folder (and of its sub-folders when recursive, except those `skipsFolder`
 * rejects), lazily, with why it is not a candidate. Returning the generator early closes the open
 * directory; a failure on the root itself is thrown.
 */
export async function* scanFolder(rules: ScanRules): AsyncGenerator<ScannedFile, void, undefined> {
  for await (const path of walkFiles(rules.root, rules.recursive, (dir) => skipsFolder(rules, dir))) {
    yield { path, skip: fileSkipReason(rules, path) };
  }
}
