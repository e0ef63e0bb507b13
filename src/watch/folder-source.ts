/** One watched folder: its event source (fs.watch when flat, chokidar when recursive, none when polled), its current scan, the checks that it is still there, and its revival once back. */
import { constants, watch as fsWatch, type Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { watch as chokidarWatch } from 'chokidar';
import type { WatchFolder } from '../config/schema.js';
import { EdgewatchError } from '../errors.js';
import type { Closers, Release } from './closers.js';
import { statFailureReason } from './ignore.js';
import { scanFolder, scanRules, watchIgnores, type ScannedFile, type ScanRules } from './scan.js';

/** What a folder reports to the watcher. */
export interface FolderSourceHandlers {
  /** chokidar saw `path` added or changed. */
  changed(source: FolderSource, path: string): void;
  /** fs.watch named `path`: added, changed or removed, not stat'ed yet. */
  named(source: FolderSource, path: string): void;
  /** chokidar saw `path` removed. */
  removed(path: string): void;
  /** Events were lost: the folder is marked dirty and wants a scan. */
  needsScan(source: FolderSource): void;
  failed(source: FolderSource, error: EdgewatchError): void;
  /** The folder is back and watched again (and dirty). */
  restored(source: FolderSource): void;
}

export interface FolderSourceOptions {
  extensions: readonly string[];
  ignorePaths: readonly string[];
  /** Scanned periodically by the watcher: no event source. */
  polled: boolean;
  /** How often the watcher checks the folder (named in the folderError message). */
  rootCheckMs: number;
}

/** A step of the folder's scan: a file, `ended` (the scan finished), or `idle` (nothing to scan, or the scan failed or was replaced). */
export type ScanStep = ScannedFile | 'ended' | 'idle';

/** What tells a folder from another one created at the same path (file systems reuse inode numbers at once: the birth time differs). */
function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.birthtimeMs}`;
}

/** The folder's stats once it is known to be a readable folder; EW_WATCH_FOLDER otherwise. */
async function checkFolder(root: string): Promise<Stats> {
  const unreadable = (err: unknown) =>
    new EdgewatchError('EW_WATCH_FOLDER', `Watched folder ${root} cannot be read (${(err as Error).message}); check its permissions.`, { cause: err, details: { path: root } });
  let stats: Stats;
  try {
    stats = await stat(root);
  } catch (err) {
    if (statFailureReason(err) === 'vanished') {
      throw new EdgewatchError('EW_WATCH_FOLDER', `Watched folder ${root} does not exist; create it or correct the watch setting.`, { cause: err, details: { path: root } });
    }
    throw unreadable(err);
  }
  if (!stats.isDirectory()) {
    throw new EdgewatchError('EW_WATCH_FOLDER', `Watched folder ${root} is not a folder; give the folder that holds the images.`, { details: { path: root } });
  }
  try {
    await access(root, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw unreadable(err);
  }
  return stats;
}

/**
 * One watched folder. Its event source and its scan are registered on the watcher's closers; a
 * revival releases them and registers new ones, so a revival racing `close()` needs no care.
 */
export class FolderSource {
  readonly folder: WatchFolder;
  /** The folder, absolute and resolved. */
  readonly root: string;
  readonly rules: ScanRules;
  /** Events were dropped (or the first scan is due): the folder needs a scan. */
  dirty = true;
  /** The initial scan has not finished yet. */
  initial = true;
  /** Scans started, the initial one included. */
  scans = 0;
  readonly #options: FolderSourceOptions;
  readonly #closers: Closers;
  readonly #handlers: FolderSourceHandlers;
  #failed = false;
  #checkingRoot = false;
  /** Identity of the folder being watched (`identityOf`): a folder removed and created again at once is another one, whose events the old watch never sees. */
  #identity: string | undefined;
  #stopEvents: Release | undefined;
  #scan: { files: AsyncGenerator<ScannedFile, void, undefined>; release: Release } | undefined;

  constructor(folder: WatchFolder, options: FolderSourceOptions, closers: Closers, handlers: FolderSourceHandlers) {
    this.folder = folder;
    this.rules = scanRules(folder, options.extensions, options.ignorePaths);
    this.root = this.rules.root;
    this.#options = options;
    this.#closers = closers;
    this.#handlers = handlers;
  }

  /** The folder is gone or failed; it is checked periodically to be back. */
  get failed(): boolean {
    return this.#failed;
  }

  /** A scan is under way. */
  get scanning(): boolean {
    return this.#scan !== undefined;
  }

  /** Checks the folder and remembers which one it is; EW_WATCH_FOLDER when it is not a readable folder. */
  async open(): Promise<void> {
    this.#identity = identityOf(await checkFolder(this.root));
  }

  /** Starts the folder's event source (none when polled or closed). */
  async watch(): Promise<void> {
    if (this.#options.polled || this.#closers.closed) return;
    if (this.folder.recursive) await this.#watchRecursive();
    else this.#watchFlat();
  }

  /** The periodic check: a failed folder is revived once back; a watched one is checked to still be there. */
  checkHealth(): void {
    void (this.#failed ? this.#revive() : this.#checkRoot());
  }

  /** The next step of the folder's scan, starting one when the folder is dirty. */
  async nextScanned(): Promise<ScanStep> {
    if (!this.#scan) {
      if (!this.dirty) return 'idle';
      this.dirty = false;
      const files = scanFolder(this.rules);
      this.#scan = { files, release: this.#closers.add(() => files.return(undefined)) };
      this.scans += 1;
    }
    const scan = this.#scan;
    let step: IteratorResult<ScannedFile, void>;
    try {
      step = await scan.files.next();
    } catch (err) {
      // A scan replaced meanwhile (the folder was revived) speaks of the old folder: ignore it.
      if (this.#scan !== scan) return 'idle';
      void this.#endScan();
      this.#fail(err);
      return 'idle';
    }
    if (this.#scan !== scan) return 'idle';
    if (step.done) {
      void this.#endScan();
      this.initial = false;
      return 'ended';
    }
    return step.value;
  }

  #endScan(): Promise<void> {
    const scan = this.#scan;
    this.#scan = undefined;
    return scan?.release() ?? Promise.resolve();
  }

  /**
   * A flat folder is watched with Node's own fs.watch (inotify on Linux): each event names the
   * file, and one stat tells an added or changed file from a removed one. chokidar re-lists the
   * whole folder, with an lstat per entry, after each change of the folder, so with a backlog of
   * N files every new or delivered file cost N lstats; it stays in use for recursive folders.
   */
  #watchFlat(): void {
    const rootName = basename(this.root);
    const fsw = fsWatch(this.root, { persistent: true }, (_event, filename) => {
      if (this.#closers.closed || this.#failed) return;
      if (filename === null) {
        // No name (the platform lost it): look at the whole folder again.
        this.dirty = true;
        this.#handlers.needsScan(this);
        return;
      }
      const name = filename.toString();
      if (name === rootName) void this.#checkRoot();
      this.#handlers.named(this, join(this.root, name));
    });
    fsw.on('error', (err) => this.#fail(err));
    this.#stopEvents = this.#closers.add(() => fsw.close());
  }

  async #watchRecursive(): Promise<void> {
    const fsw = chokidarWatch(this.root, {
      ignoreInitial: true,
      persistent: true,
      awaitWriteFinish: false,
      ignorePermissionErrors: true,
      // Links are reported, never entered (as scans do): whether a link to a file is read is the intake's call.
      followSymlinks: false,
      ignored: (path: string, stats?: Stats) => watchIgnores(this.rules, path, stats),
    });
    const ready = new Promise<void>((resolve) => fsw.once('ready', resolve));
    // Closed once set up, as before this list existed: chokidar closed during its initial walk drops its 'ready' listeners.
    this.#stopEvents = this.#closers.add(() => ready.then(() => fsw.close()));
    fsw.on('add', (path) => this.#handlers.changed(this, path));
    fsw.on('change', (path) => this.#handlers.changed(this, path));
    fsw.on('unlink', (path) => this.#handlers.removed(path));
    fsw.on('unlinkDir', (path) => {
      if (path === this.root) void this.#checkRoot();
    });
    // chokidar reports the removal of an empty watched folder only as a raw 'rename' of its own name.
    const rootName = basename(this.root);
    fsw.on('raw', (event, path) => {
      if (event === 'rename' && path === rootName) void this.#checkRoot();
    });
    fsw.on('error', (err) => this.#fail(err));
    await ready;
  }

  /** Reports the folder as failed when it is gone, no longer a folder, or another folder. */
  async #checkRoot(): Promise<void> {
    if (this.#checkingRoot || this.#failed || this.#closers.closed) return;
    this.#checkingRoot = true;
    try {
      const stats = await stat(this.root);
      if (!stats.isDirectory()) this.#fail(new Error('it is no longer a folder'));
      else if (this.#identity !== undefined && identityOf(stats) !== this.#identity) this.#fail(new Error('it was removed and created again'));
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#checkingRoot = false;
    }
  }

  /**
   * A failed folder that exists again (remounted, recreated) is watched again and scanned: files
   * that arrived meanwhile are picked up, those already handled are skipped by the ledger.
   */
  async #revive(): Promise<void> {
    if (this.#checkingRoot || this.#closers.closed) return;
    this.#checkingRoot = true;
    try {
      const stats = await stat(this.root).catch(() => undefined);
      if (!stats?.isDirectory() || this.#closers.closed) return;
      await this.#stopEvents?.();
      this.#stopEvents = undefined;
      await this.#endScan();
      this.#identity = identityOf(stats);
      await this.watch();
      // close() may have run meanwhile: the new watch is released already (registered on closed closers).
      if (this.#closers.closed) return;
      this.#failed = false;
      this.dirty = true;
      this.#handlers.restored(this);
    } catch {
      // Still not watchable: the next round tries again.
    } finally {
      this.#checkingRoot = false;
    }
  }

  #fail(cause: unknown): void {
    if (this.#failed || this.#closers.closed) return;
    this.#failed = true;
    this.dirty = false;
    this.initial = false;
    const checkS = Math.round(this.#options.rootCheckMs / 1000);
    this.#handlers.failed(
      this,
      new EdgewatchError(
        'EW_WATCH_FOLDER',
        `Watched folder ${this.root} is gone or failed (${(cause as Error | undefined)?.message ?? String(cause)}); its new files are picked up again once it is back (checked every ${checkS} s).`,
        { cause, details: { path: this.root } },
      ),
    );
  }
}
