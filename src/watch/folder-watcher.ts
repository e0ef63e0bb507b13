/** The watch stage: yields each completely written image file of the watched folders, once, with bounded memory. */
import { EventEmitter } from 'node:events';
import { constants, watch as fsWatch, type Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { watch as chokidarWatch } from 'chokidar';
import type { WatchFolder } from '../config/schema.js';
import { EdgewatchError } from '../errors.js';
import { hasHiddenParent, isUnder, skipReason, type SkipReason } from './ignore.js';
import { walkFiles } from './walk.js';

/** A file whose size and modification time stayed unchanged for `stableMs`. */
export interface WatchedFile {
  /** Absolute path. */
  path: string;
  folder: WatchFolder;
  sizeBytes: number;
  mtimeMs: number;
  /**
   * True when size and mtime stayed unchanged for `stableMs`. False for an eager hand-out on first
   * sight: the consumer must prove the file complete (a full decode) or call `recheck()`.
   */
  settled: boolean;
  /** performance.now() when the file was first seen with this size and mtime (its "complete" time). */
  seenAt: number;
}

export interface FolderWatcherOptions {
  folders: WatchFolder[];
  /** Accepted extensions, e.g. `.jpg` (compared case-insensitively). */
  extensions: string[];
  /** How long size and mtime must stay unchanged before a file is yielded. */
  stableMs: number;
  /** Folders whose contents are never yielded (rejected/, processed/, the state folder). */
  ignorePaths: string[];
  /** At most this many stable files wait in the queue; scanning pauses while it is full. */
  capacity: number;
  /** false: scan the folders once (`--once`); `next()` gives null once that scan is consumed. */
  watch: boolean;
  /** The ledger's view: true skips a file already handled (checked on its first stat). */
  isDone?: (file: WatchedFile) => boolean;
  /** Interval of the stability checks; default stableMs/4 within 10–250 ms. */
  pollMs?: number;
  /** How often each folder is checked to still exist (and, once gone, to be back); default 5,000 ms. */
  rootCheckMs?: number;
  /**
   * With `watch`: 0 or absent uses file-system events; N > 0 uses none and scans every folder every
   * N ms instead (network shares, where other machines' writes raise no event here).
   */
  scanEveryMs?: number;
  /**
   * Hand a file out on its first stat, unsettled, instead of after `stableMs`; the consumer
   * calls `recheck()` when it turns out incomplete, and the file then follows the stability path.
   */
  eager?: boolean;
}

/**
 * Events: `skipped` for every file not queued and why, `observed` when a pending file's size or
 * mtime is first seen or changes, `queued`, `folderError` when a folder is gone (never `error`: a
 * vanished folder must not crash a listener-less agent) and `folderRestored` when it is back and
 * watched again.
 */
export interface FolderWatcherEvents {
  skipped: [info: { path: string; reason: SkipReason }];
  observed: [info: { path: string; sizeBytes: number; mtimeMs: number }];
  queued: [file: WatchedFile];
  folderError: [error: EdgewatchError];
  folderRestored: [info: { path: string }];
}

/** Counters for metrics and tests. */
export interface WatcherCounts {
  pending: number;
  queued: number;
  /** Events not held because the pending set was full (their folder is re-scanned later). */
  deferredEvents: number;
  /** Folder scans started, the initial ones included. */
  scans: number;
  /** Stability check rounds. */
  checks: number;
  /** A folder scan is running or due. */
  scanning: boolean;
}

interface FolderState {
  folder: WatchFolder;
  root: string;
  /** The folder's event source: Node's fs.watch for a flat folder, chokidar for a recursive one. */
  fsw: { close(): unknown } | undefined;
  scan: AsyncGenerator<string, void, undefined> | undefined;
  /** Events were dropped (or the first scan is due): the folder needs a scan. */
  dirty: boolean;
  /** The initial scan has not finished yet. */
  initial: boolean;
  failed: boolean;
  checkingRoot: boolean;
  /** Identity of the folder being watched (`identityOf`): a folder removed and created again at once is another one, whose events the old watch never sees. */
  identity: string | undefined;
}

interface Candidate {
  path: string;
  state: FolderState;
  /** -1 until the first stat. */
  sizeBytes: number;
  mtimeMs: number;
  /** When the current size/mtime was first observed (performance.now()). */
  observedAt: number;
  stable: boolean;
  /** Counted in the initial scan's outstanding files. */
  initial: boolean;
  /** Handed out on first sight (not settled). */
  eager: boolean;
  /** Already handed out eagerly once: must settle this time. */
  eagerTried: boolean;
  /** An event reported a change since the last stat (a ready candidate is stat'ed again only then). */
  changed: boolean;
}

/**
 * How long an empty file must stay empty before it is handed out (watch mode; at least stableMs).
 * A writer creates the file before writing to it, and under load the first write can come later
 * than stableMs: an empty file taken as finished would be rejected and moved while being written.
 */
const EMPTY_SETTLE_MS = 5_000;
/** How often each watched folder is checked to still exist (or, once gone, to be back), besides the file-system events. */
const ROOT_CHECK_MS = 5_000;
/** Size of the handed-out map at which entries the ledger already knows are dropped. */
const YIELDED_PRUNE_MIN = 4_096;

function signature(sizeBytes: number, mtimeMs: number): string {
  return `${sizeBytes}:${mtimeMs}`;
}

/** What tells a folder from another one created at the same path (file systems reuse inode numbers at once: the birth time differs). */
function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.birthtimeMs}`;
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Watches folders (fs.watch for flat ones, chokidar for recursive ones, or periodic scans with
 * `scanEveryMs`; or scans them once) and hands out stable files through `next()`.
 *
 * Memory is bounded: at most `capacity` files wait in the queue and a bounded set of files are
 * being checked for stability; events beyond that mark their folder dirty and the folder is
 * re-scanned, lazily, when there is room, so no file is lost. A file is yielded once per
 * size/mtime; a file that changes after being yielded is yielded again.
 */
export class FolderWatcher extends EventEmitter<FolderWatcherEvents> {
  /** Resolves once every file found by the initial scan has been queued (or skipped); also on close. */
  readonly scanComplete: Promise<void>;

  readonly #options: FolderWatcherOptions;
  readonly #extensions: ReadonlySet<string>;
  readonly #ignorePaths: string[];
  readonly #states: FolderState[];
  readonly #maxPending: number;
  readonly #pollMs: number;
  readonly #pending = new Map<string, Candidate>();
  #queue: WatchedFile[] = [];
  readonly #queuedPaths = new Set<string>();
  /** Each file handed out, until it is unlinked or the ledger knows it (pruned in bulk past `#pruneYieldedAt`). */
  readonly #yielded = new Map<string, WatchedFile>();
  #pruneYieldedAt = YIELDED_PRUNE_MIN;
  #waiters: Array<(file: WatchedFile | null) => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #ticking = false;
  #checkAgainNow = false;
  #pumping = false;
  #pumpAgain = false;
  #initialOutstanding = 0;
  #started: Promise<void> | undefined;
  #scanning = false;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  #resolveScanComplete: () => void = () => undefined;
  #scanCompleted = false;
  readonly #counts = { deferredEvents: 0, scans: 0, checks: 0 };

  constructor(options: FolderWatcherOptions) {
    super();
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#options = options;
    this.#extensions = new Set(options.extensions.map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase()));
    this.#ignorePaths = options.ignorePaths.map((p) => resolve(p));
    this.#states = options.folders.map((folder) => ({ folder, root: resolve(folder.path), fsw: undefined, scan: undefined, dirty: true, initial: true, failed: false, checkingRoot: false, identity: undefined }));
    this.#maxPending = Math.max(2 * options.capacity, 32);
    this.#pollMs = options.pollMs ?? Math.min(250, Math.max(10, Math.round(options.stableMs / 4)));
    this.scanComplete = new Promise((resolve) => {
      this.#resolveScanComplete = resolve;
    });
  }

  /** Counts of the moment. */
  get counts(): WatcherCounts {
    const scanning = this.#states.some((s) => s.scan !== undefined || (s.dirty && !s.failed));
    return { pending: this.#pending.size, queued: this.#queue.length, ...this.#counts, scanning };
  }

  /**
   * Checks every folder, sets up the watchers (when `watch`) and starts the initial scan.
   * Throws EW_WATCH_FOLDER when a folder does not exist, is not a folder or cannot be read.
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    for (const state of this.#states) state.identity = identityOf(await this.#checkFolder(state.root));
    if (this.#closed) return;
    if (this.#options.watch) await Promise.all(this.#states.map((state) => this.#watchFolder(state)));
    if (this.#closed) return;
    if (this.#options.watch) {
      // Removals the events do not report (network mounts, folders replaced by files), and folders coming back.
      this.#healthTimer = setInterval(() => {
        for (const state of this.#states) void (state.failed ? this.#revive(state) : this.#checkRoot(state));
      }, this.#options.rootCheckMs ?? ROOT_CHECK_MS);
      this.#healthTimer.unref();
      const every = this.#options.scanEveryMs ?? 0;
      if (every > 0) {
        this.#pollTimer = setInterval(() => {
          for (const state of this.#states) if (!state.failed) state.dirty = true;
          void this.#pump();
        }, every);
      }
    }
    this.#scanning = true;
    void this.#pump();
  }

  /** The folder's stats once it is known to be a readable folder; EW_WATCH_FOLDER otherwise. */
  async #checkFolder(root: string): Promise<Stats> {
    let stats: Stats;
    try {
      stats = await stat(root);
    } catch (err) {
      const missing = errnoOf(err) === 'ENOENT';
      throw new EdgewatchError(
        'EW_WATCH_FOLDER',
        missing ? `Watched folder ${root} does not exist; create it or correct the watch setting.` : `Watched folder ${root} cannot be read (${(err as Error).message}); check its permissions.`,
        { cause: err, details: { path: root } },
      );
    }
    if (!stats.isDirectory()) {
      throw new EdgewatchError('EW_WATCH_FOLDER', `Watched folder ${root} is not a folder; give the folder that holds the images.`, { details: { path: root } });
    }
    try {
      await access(root, constants.R_OK | constants.X_OK);
    } catch (err) {
      throw new EdgewatchError('EW_WATCH_FOLDER', `Watched folder ${root} cannot be read (${(err as Error).message}); check its permissions.`, {
        cause: err,
        details: { path: root },
      });
    }
    return stats;
  }

  /** Starts the folder's event source; `state.identity` must be the folder's current one. */
  async #watchFolder(state: FolderState): Promise<void> {
    if ((this.#options.scanEveryMs ?? 0) > 0) return; // polled: see #start
    if (!state.folder.recursive) {
      this.#watchFlat(state);
      return;
    }
    const fsw = chokidarWatch(state.root, {
      ignoreInitial: true,
      persistent: true,
      depth: state.folder.recursive ? undefined : 0,
      awaitWriteFinish: false,
      ignorePermissionErrors: true,
      ignored: (path: string, stats?: Stats) =>
        this.#ignorePaths.some((dir) => isUnder(path, dir)) ||
        hasHiddenParent(state.root, path) ||
        (stats?.isDirectory() === true && path !== state.root && hasHiddenParent(state.root, `${path}/x`)),
    });
    state.fsw = fsw;
    fsw.on('add', (path) => this.#onEvent(state, path));
    fsw.on('change', (path) => this.#onEvent(state, path));
    fsw.on('unlink', (path) => this.#onUnlink(path));
    fsw.on('unlinkDir', (path) => {
      if (path === state.root) void this.#checkRoot(state);
    });
    // chokidar reports the removal of an empty watched folder only as a raw 'rename' of its own name.
    const rootName = basename(state.root);
    fsw.on('raw', (event, path) => {
      if (event === 'rename' && path === rootName) void this.#checkRoot(state);
    });
    fsw.on('error', (err) => this.#folderFailed(state, err));
    await new Promise<void>((resolve) => fsw.once('ready', resolve));
  }

  /**
   * A flat folder is watched with Node's own fs.watch (inotify on Linux): each event names the
   * file, and one stat tells an added or changed file from a removed one. chokidar re-lists the
   * whole folder, with an lstat per entry, after each change of the folder, so with a backlog of
   * N files every new or delivered file cost N lstats; it stays in use for recursive folders.
   */
  #watchFlat(state: FolderState): void {
    const rootName = basename(state.root);
    const fsw = fsWatch(state.root, { persistent: true }, (_event, filename) => {
      if (this.#closed || state.failed) return;
      if (filename === null) {
        // No name (the platform lost it): look at the whole folder again.
        state.dirty = true;
        void this.#pump();
        return;
      }
      const name = filename.toString();
      if (name === rootName) void this.#checkRoot(state);
      void this.#onNamedEvent(state, join(state.root, name));
    });
    fsw.on('error', (err) => this.#folderFailed(state, err));
    state.fsw = fsw;
  }

  /** An fs.watch event for `path`: a file added or changed goes to the stability checks, a removed one is forgotten. */
  async #onNamedEvent(state: FolderState, path: string): Promise<void> {
    const reason = skipReason(state.root, path, this.#extensions, this.#ignorePaths);
    if (reason) {
      this.emit('skipped', { path, reason });
      return;
    }
    // Already followed, or no room: the generic event handling (re-check, or a rescan later).
    const forGenericHandling = () => this.#pending.has(path) || this.#queuedPaths.has(path) || this.#pending.size >= this.#maxPending;
    if (forGenericHandling()) {
      this.#onEvent(state, path);
      return;
    }
    let stats: Stats;
    try {
      stats = await stat(path);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') this.#onUnlink(path);
      else this.#onEvent(state, path);
      return;
    }
    if (this.#closed || !stats.isFile()) return;
    if (forGenericHandling()) {
      this.#onEvent(state, path);
      return;
    }
    if (this.#alreadyHandled(state, path, stats.size, stats.mtimeMs)) return;
    this.#addCandidate(state, path, stats.size, stats.mtimeMs, false);
  }

  /** Reports the folder as failed when it is gone or no longer a folder. */
  async #checkRoot(state: FolderState): Promise<void> {
    if (state.checkingRoot || state.failed || this.#closed) return;
    state.checkingRoot = true;
    try {
      const stats = await stat(state.root);
      if (!stats.isDirectory()) this.#folderFailed(state, new Error('it is no longer a folder'));
      else if (state.identity !== undefined && identityOf(stats) !== state.identity) this.#folderFailed(state, new Error('it was removed and created again'));
    } catch (err) {
      this.#folderFailed(state, err);
    } finally {
      state.checkingRoot = false;
    }
  }

  /**
   * A failed folder that exists again (remounted, recreated) is watched again and scanned: files
   * that arrived meanwhile are picked up, those already handled are skipped by the ledger.
   */
  async #revive(state: FolderState): Promise<void> {
    if (state.checkingRoot || this.#closed || !this.#options.watch) return;
    state.checkingRoot = true;
    try {
      const stats = await stat(state.root).catch(() => undefined);
      if (!stats?.isDirectory() || this.#closed) return;
      await Promise.resolve(state.fsw?.close()).catch(() => undefined);
      await state.scan?.return(undefined).catch(() => undefined);
      state.fsw = undefined;
      state.scan = undefined;
      if (this.#closed) return;
      state.identity = identityOf(stats);
      await this.#watchFolder(state);
      if (this.#closed) {
        // close() ran meanwhile and did not see this new watch.
        const fresh = state.fsw as FolderState['fsw'];
        await Promise.resolve(fresh?.close()).catch(() => undefined);
        state.fsw = undefined;
        return;
      }
      state.failed = false;
      state.dirty = true;
      this.emit('folderRestored', { path: state.root });
      void this.#pump();
    } catch {
      // Still not watchable: the next round tries again.
    } finally {
      state.checkingRoot = false;
    }
  }

  #folderFailed(state: FolderState, cause: unknown): void {
    if (state.failed || this.#closed) return;
    state.failed = true;
    state.dirty = false;
    if (state.initial) state.initial = false;
    this.emit(
      'folderError',
      new EdgewatchError(
        'EW_WATCH_FOLDER',
        `Watched folder ${state.root} is gone or failed (${(cause as Error | undefined)?.message ?? String(cause)}); its new files are picked up again once it is back (checked every ${Math.round((this.#options.rootCheckMs ?? ROOT_CHECK_MS) / 1000)} s).`,
        { cause, details: { path: state.root } },
      ),
    );
    this.#settle();
  }

  /** The next stable file, waiting for one if needed; null once closed, or (watch: false) once the scan is consumed. */
  next(): Promise<WatchedFile | null> {
    const file = this.#queue.shift();
    if (file) {
      this.#queuedPaths.delete(file.path);
      this.#promote();
      void this.#pump();
      this.#settle();
      return Promise.resolve(file);
    }
    if (this.#isFinished()) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Stops watching and releases every watcher, scan and timer. Idempotent: returns the same promise. */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#timer = undefined;
    this.#healthTimer = undefined;
    this.#wakeAll(null);
    await this.#started?.catch(() => undefined);
    const releases: Array<Promise<unknown>> = [];
    for (const state of this.#states) {
      if (state.fsw) releases.push(Promise.resolve(state.fsw.close()));
      if (state.scan) releases.push(state.scan.return(undefined));
      state.fsw = undefined;
      state.scan = undefined;
    }
    await Promise.allSettled(releases);
    this.#pending.clear();
    this.#queue = [];
    this.#queuedPaths.clear();
    this.#resolveScanComplete();
  }

  #onEvent(state: FolderState, path: string): void {
    if (this.#closed) return;
    const reason = skipReason(state.root, path, this.#extensions, this.#ignorePaths);
    if (reason) {
      this.emit('skipped', { path, reason });
      return;
    }
    const pending = this.#pending.get(path);
    if (pending) {
      // The next check stats it again (a ready candidate waiting for room is otherwise not re-stat'ed).
      pending.changed = true;
      this.#scheduleCheck();
      return;
    }
    if (this.#queuedPaths.has(path)) {
      // Changed while waiting in the queue: back to the stability checks (may exceed the pending bound by at most `capacity`).
      this.#queue = this.#queue.filter((f) => f.path !== path);
      this.#queuedPaths.delete(path);
      this.#yielded.delete(path);
      this.#addCandidate(state, path, -1, -1, false);
      return;
    }
    if (this.#pending.size >= this.#maxPending) {
      this.#counts.deferredEvents += 1;
      state.dirty = true;
      return;
    }
    this.#addCandidate(state, path, -1, -1, false);
  }

  #addCandidate(state: FolderState, path: string, sizeBytes: number, mtimeMs: number, initial: boolean, eagerTried = false): void {
    // A scan or an event's stat already knows size and mtime: an eager candidate is ready at once (stat'ed again only if an event reports a change).
    const ready = this.#options.eager === true && !eagerTried && sizeBytes > 0;
    this.#pending.set(path, { path, state, sizeBytes, mtimeMs, observedAt: performance.now(), stable: ready, initial, eager: ready, eagerTried, changed: false });
    if (initial) this.#initialOutstanding += 1;
    if (sizeBytes >= 0) this.emit('observed', { path, sizeBytes, mtimeMs });
    this.#scheduleCheck(this.#options.eager && !eagerTried);
  }

  /**
   * An eagerly handed-out file turned out incomplete (still being written): watch it again and
   * hand it out once its size and mtime stay unchanged for `stableMs`.
   */
  recheck(file: WatchedFile): void {
    if (this.#closed) return;
    // Forget the hand-out only if it is this version: a newer one already handed out is not handed out again.
    const yielded = this.#yielded.get(file.path);
    if (yielded && signature(yielded.sizeBytes, yielded.mtimeMs) === signature(file.sizeBytes, file.mtimeMs)) this.#yielded.delete(file.path);
    if (this.#pending.has(file.path)) return;
    const state = this.#states.find((s) => s.folder === file.folder) ?? this.#states.find((s) => isUnder(file.path, s.root));
    if (!state) return;
    this.#addCandidate(state, file.path, -1, -1, false, true);
  }

  #removeCandidate(candidate: Candidate, reason?: SkipReason): void {
    this.#pending.delete(candidate.path);
    if (candidate.initial) this.#initialOutstanding -= 1;
    if (reason) this.emit('skipped', { path: candidate.path, reason });
  }

  #scheduleCheck(now = false): void {
    if (this.#closed) return;
    if (this.#ticking) {
      if (now) this.#checkAgainNow = true;
      return;
    }
    if (this.#immediate) return;
    if (now) {
      // setImmediate, not setTimeout(0): a timer waits at least 1 ms, on the path of every new file.
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        void this.#check();
      });
      return;
    }
    this.#timer ??= setTimeout(() => void this.#check(), this.#pollMs);
  }

  /** Is this file known already, by the watcher (same signature handed out) or by the ledger? */
  #alreadyHandled(state: FolderState, path: string, sizeBytes: number, mtimeMs: number): SkipReason | undefined {
    const yielded = this.#yielded.get(path);
    if (yielded && signature(yielded.sizeBytes, yielded.mtimeMs) === signature(sizeBytes, mtimeMs)) return 'unchanged';
    let done = false;
    try {
      done = this.#options.isDone?.({ path, folder: state.folder, sizeBytes, mtimeMs, settled: true, seenAt: 0 }) ?? false;
    } catch {
      done = false; // the ledger's failure surfaces when the consumer uses it
    }
    if (done) {
      this.#yielded.delete(path);
      return 'done';
    }
    return undefined;
  }

  /**
   * One round of stability checks: a stat per pending file that is not ready yet or that an event
   * reported changed. Ready files waiting for room in the queue are not stat'ed again every round
   * (a change the events missed is still caught: the consumer checks size and mtime, or the read fails).
   */
  async #check(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed) return;
    this.#ticking = true;
    try {
      const due = [...this.#pending.values()].filter((c) => !c.stable || c.changed || c.sizeBytes < 0);
      await Promise.all(due.map((c) => this.#checkOne(c)));
    } finally {
      this.#ticking = false;
    }
    if (this.#closed) return;
    this.#counts.checks += 1;
    this.#promote();
    const again = this.#checkAgainNow;
    this.#checkAgainNow = false;
    if (this.#pending.size > 0) this.#scheduleCheck(again);
    void this.#pump();
    this.#settle();
  }

  async #checkOne(candidate: Candidate): Promise<void> {
    candidate.changed = false;
    let stats: Stats;
    try {
      stats = await stat(candidate.path);
    } catch (err) {
      if (this.#pending.get(candidate.path) === candidate) this.#removeCandidate(candidate, errnoOf(err) === 'ENOENT' ? 'vanished' : 'unreadable');
      return;
    }
    if (this.#pending.get(candidate.path) !== candidate) return;
    if (!stats.isFile()) {
      this.#removeCandidate(candidate, 'not-a-file');
      return;
    }
    if (stats.size !== candidate.sizeBytes || stats.mtimeMs !== candidate.mtimeMs) {
      const first = candidate.sizeBytes < 0;
      // Not seen with any content yet (first stat, or created empty and now written to): eager may hand it out.
      const firstContent = candidate.sizeBytes <= 0;
      candidate.sizeBytes = stats.size;
      candidate.mtimeMs = stats.mtimeMs;
      candidate.observedAt = performance.now();
      candidate.stable = false;
      candidate.eager = false;
      const handled = first ? this.#alreadyHandled(candidate.state, candidate.path, stats.size, stats.mtimeMs) : undefined;
      if (handled) this.#removeCandidate(candidate, handled);
      else {
        this.emit('observed', { path: candidate.path, sizeBytes: stats.size, mtimeMs: stats.mtimeMs });
        if (firstContent && this.#options.eager && !candidate.eagerTried && stats.size > 0) {
          candidate.stable = true;
          candidate.eager = true;
        }
      }
      return;
    }
    const settleMs = candidate.sizeBytes === 0 && this.#options.watch ? Math.max(this.#options.stableMs, EMPTY_SETTLE_MS) : this.#options.stableMs;
    if (performance.now() - candidate.observedAt >= settleMs) candidate.stable = true;
  }

  #onUnlink(path: string): void {
    this.#yielded.delete(path);
    if (this.#queuedPaths.delete(path)) this.#queue = this.#queue.filter((f) => f.path !== path);
  }

  /** Records a handed-out file; past a threshold, forgets those the ledger has recorded (it answers for them). */
  #remember(file: WatchedFile): void {
    this.#yielded.set(file.path, file);
    if (this.#yielded.size < this.#pruneYieldedAt || !this.#options.isDone) return;
    for (const [path, known] of this.#yielded) {
      try {
        if (this.#options.isDone(known)) this.#yielded.delete(path);
      } catch {
        break;
      }
    }
    this.#pruneYieldedAt = Math.max(YIELDED_PRUNE_MIN, 2 * this.#yielded.size);
  }

  /** Moves stable files to waiting consumers, then to the queue while it has room. */
  #promote(): void {
    for (const candidate of this.#pending.values()) {
      if (this.#queue.length >= this.#options.capacity && this.#waiters.length === 0) break;
      if (!candidate.stable) continue;
      this.#removeCandidate(candidate);
      const file: WatchedFile = { path: candidate.path, folder: candidate.state.folder, sizeBytes: candidate.sizeBytes, mtimeMs: candidate.mtimeMs, settled: !candidate.eager, seenAt: candidate.observedAt };
      this.#remember(file);
      this.emit('queued', file);
      const waiter = this.#waiters.shift();
      if (waiter) {
        waiter(file);
      } else {
        this.#queue.push(file);
        this.#queuedPaths.add(file.path);
      }
    }
  }

  /** Feeds folder scans into the pending set while it has room; one pump at a time. */
  async #pump(): Promise<void> {
    if (!this.#scanning) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        for (const state of this.#states) await this.#scanSome(state);
      } while (this.#pumpAgain && !this.#closed);
    } finally {
      this.#pumping = false;
    }
    this.#settle();
  }

  async #scanSome(state: FolderState): Promise<void> {
    while (!this.#closed && !state.failed && this.#pending.size < this.#maxPending) {
      if (!state.scan) {
        if (!state.dirty) return;
        state.dirty = false;
        state.scan = walkFiles(state.root, state.folder.recursive, (dir) => this.#ignorePaths.some((p) => isUnder(dir, p)) || hasHiddenParent(state.root, `${dir}/x`));
        this.#counts.scans += 1;
      }
      const scan = state.scan;
      let step: IteratorResult<string, void>;
      try {
        step = await scan.next();
      } catch (err) {
        // A scan replaced meanwhile (the folder was revived) speaks of the old folder: ignore it.
        if (state.scan !== scan) return;
        state.scan = undefined;
        this.#folderFailed(state, err);
        return;
      }
      if (this.#closed || state.scan !== scan) return;
      if (step.done) {
        state.scan = undefined;
        state.initial = false;
        this.#settle();
        continue;
      }
      await this.#considerScanned(state, step.value);
    }
  }

  async #considerScanned(state: FolderState, path: string): Promise<void> {
    const initial = state.initial;
    const reason = skipReason(state.root, path, this.#extensions, this.#ignorePaths);
    if (reason) {
      if (initial) this.emit('skipped', { path, reason });
      return;
    }
    const pending = this.#pending.get(path);
    if (pending) {
      if (initial && !pending.initial) {
        pending.initial = true;
        this.#initialOutstanding += 1;
      }
      return;
    }
    if (this.#queuedPaths.has(path)) return;
    let stats: Stats;
    try {
      stats = await stat(path);
    } catch (err) {
      this.emit('skipped', { path, reason: errnoOf(err) === 'ENOENT' ? 'vanished' : 'unreadable' });
      return;
    }
    if (this.#closed || this.#pending.has(path) || this.#queuedPaths.has(path)) return;
    if (!stats.isFile()) return;
    const handled = this.#alreadyHandled(state, path, stats.size, stats.mtimeMs);
    if (handled) {
      if (handled === 'done') this.emit('skipped', { path, reason: handled });
      return;
    }
    this.#addCandidate(state, path, stats.size, stats.mtimeMs, initial);
  }

  #isFinished(): boolean {
    if (this.#closed) return true;
    if (this.#options.watch || !this.#scanning) return false;
    return this.#pending.size === 0 && this.#queue.length === 0 && this.#states.every((s) => !s.scan && !s.dirty);
  }

  /** Resolves `scanComplete` and ends `next()` (watch: false) when their conditions hold. */
  #settle(): void {
    if (!this.#scanCompleted && this.#scanning && this.#initialOutstanding === 0 && this.#states.every((s) => !s.initial)) {
      this.#scanCompleted = true;
      this.#resolveScanComplete();
    }
    if (this.#isFinished()) this.#wakeAll(null);
  }

  #wakeAll(value: null): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter(value);
  }
}
