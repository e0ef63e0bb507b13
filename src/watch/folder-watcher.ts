/** The watch stage: yields each completely written image file of the watched folders, once, with bounded memory. Coordinates the folder sources, the intake, the stability checks and the ready queue. */
import { EventEmitter } from 'node:events';
import type { WatchFolder } from '../config/schema.js';
import type { EdgewatchError } from '../errors.js';
import { Candidates } from './candidates.js';
import { Closers } from './closers.js';
import { FolderSource, type FolderSourceHandlers } from './folder-source.js';
import { HandedOut } from './handed-out.js';
import { isUnder, type SkipReason } from './ignore.js';
import { Intake } from './intake.js';
import { ReadyQueue } from './ready-queue.js';
import type { WatchedFile } from './watched-file.js';

export type { WatchedFile } from './watched-file.js';

/** What a FolderWatcher watches and how. */
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

/** How often each watched folder is checked to still exist (or, once gone, to be back), besides the file-system events. */
const ROOT_CHECK_MS = 5_000;

/**
 * Watches folders (fs.watch for flat ones, chokidar for recursive ones, or periodic scans with
 * `scanEveryMs`; or scans them once) and hands out stable files through `next()`.
 *
 * Memory is bounded: at most `capacity` files wait in the queue and a bounded set of files are
 * being checked for stability; events beyond that mark their folder dirty and the folder is
 * re-scanned, lazily, when there is room, so no file is lost. A file is yielded once per
 * size/mtime; a file that changes after being yielded is yielded again. Everything that must be
 * released (event sources, scans, timers) is on one list of closers, which `close()` runs.
 */
export class FolderWatcher extends EventEmitter<FolderWatcherEvents> {
  /** Resolves once every file found by the initial scan has been queued (or skipped); also on close. */
  readonly scanComplete: Promise<void>;

  readonly #options: FolderWatcherOptions;
  readonly #closers = new Closers();
  readonly #sources: FolderSource[];
  readonly #candidates: Candidates;
  readonly #queue: ReadyQueue;
  readonly #handedOut: HandedOut;
  readonly #intake: Intake;
  #started: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #resolveScanComplete: () => void = () => undefined;
  #scanCompleted = false;

  constructor(options: FolderWatcherOptions) {
    super();
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#options = options;
    this.#queue = new ReadyQueue(options.capacity);
    this.#handedOut = new HandedOut(options.isDone);
    this.#candidates = new Candidates(
      {
        stableMs: options.stableMs,
        pollMs: options.pollMs ?? Math.min(250, Math.max(10, Math.round(options.stableMs / 4))),
        maxPending: Math.max(2 * options.capacity, 32),
        watch: options.watch,
        eager: options.eager === true,
      },
      this.#closers,
      {
        alreadyHandled: (folder, path, sizeBytes, mtimeMs) => this.#handedOut.alreadyHandled(folder, path, sizeBytes, mtimeMs),
        observed: (info) => this.emit('observed', info),
        skipped: (path, reason) => this.emit('skipped', { path, reason }),
        promote: () => this.#promote(),
        afterRound: () => {
          void this.#intake.pump();
          this.#settle();
        },
      },
    );
    const handlers: FolderSourceHandlers = {
      changed: (source, path) => this.#intake.changed(source, path),
      named: (source, path) => void this.#intake.named(source, path),
      removed: (path) => this.#intake.removed(path),
      needsScan: () => void this.#intake.pump(),
      failed: (_source, error) => {
        this.emit('folderError', error);
        this.#settle();
      },
      restored: (source) => {
        this.emit('folderRestored', { path: source.root });
        void this.#intake.pump();
      },
    };
    const sourceOptions = { extensions: options.extensions, ignorePaths: options.ignorePaths, polled: (options.scanEveryMs ?? 0) > 0, rootCheckMs: options.rootCheckMs ?? ROOT_CHECK_MS };
    this.#sources = options.folders.map((folder) => new FolderSource(folder, sourceOptions, this.#closers, handlers));
    this.#intake = new Intake({
      sources: this.#sources,
      candidates: this.#candidates,
      queue: this.#queue,
      handedOut: this.#handedOut,
      closers: this.#closers,
      skipped: (path, reason) => this.emit('skipped', { path, reason }),
      settle: () => this.#settle(),
    });
    this.scanComplete = new Promise((resolve) => {
      this.#resolveScanComplete = resolve;
    });
  }

  /** Counts of the moment. */
  get counts(): WatcherCounts {
    const scanning = this.#sources.some((s) => s.scanning || (s.dirty && !s.failed));
    const scans = this.#sources.reduce((n, s) => n + s.scans, 0);
    return { pending: this.#candidates.size, queued: this.#queue.length, deferredEvents: this.#intake.deferredEvents, scans, checks: this.#candidates.checks, scanning };
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
    for (const source of this.#sources) await source.open();
    if (this.#closers.closed) return;
    if (this.#options.watch) {
      await Promise.all(this.#sources.map((source) => source.watch()));
      // Removals the events do not report (network mounts, folders replaced by files), and folders coming back.
      this.#closers.interval(() => this.#sources.forEach((source) => source.checkHealth()), this.#options.rootCheckMs ?? ROOT_CHECK_MS, { unref: true });
      const every = this.#options.scanEveryMs ?? 0;
      if (every > 0) {
        this.#closers.interval(() => {
          for (const source of this.#sources) if (!source.failed) source.dirty = true;
          void this.#intake.pump();
        }, every);
      }
    }
    if (this.#closers.closed) return;
    this.#intake.startScans();
  }

  /** The next stable file, waiting for one if needed; null once closed, or (watch: false) once the scan is consumed. */
  next(): Promise<WatchedFile | null> {
    const file = this.#queue.shift();
    if (file) {
      this.#promote();
      void this.#intake.pump();
      this.#settle();
      return Promise.resolve(file);
    }
    if (this.#isFinished()) return Promise.resolve(null);
    return this.#queue.wait();
  }

  /**
   * An eagerly handed-out file turned out incomplete (still being written): watch it again and
   * hand it out once its size and mtime stay unchanged for `stableMs`.
   */
  recheck(file: WatchedFile): void {
    if (this.#closers.closed) return;
    this.#handedOut.forgetVersion(file);
    if (this.#candidates.has(file.path)) return;
    const source = this.#sources.find((s) => s.folder === file.folder) ?? this.#sources.find((s) => isUnder(file.path, s.root));
    if (!source) return;
    this.#candidates.add(source.folder, file.path, -1, -1, false, true);
  }

  /** Stops watching and releases every watcher, scan and timer (the closers list). Idempotent: returns the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const released = this.#closers.close();
    this.#queue.endWaits();
    await released;
    await this.#started?.catch(() => undefined);
    this.#candidates.clear();
    this.#queue.clear();
    this.#resolveScanComplete();
  }

  /** Moves stable files to waiting consumers, then to the queue while it has room. */
  #promote(): void {
    for (const candidate of this.#candidates.stable()) {
      if (!this.#queue.hasRoom) break;
      const file = this.#candidates.take(candidate);
      this.#handedOut.remember(file);
      this.emit('queued', file);
      this.#queue.push(file);
    }
  }

  #isFinished(): boolean {
    if (this.#closers.closed) return true;
    if (this.#options.watch || !this.#intake.scansStarted) return false;
    return this.#candidates.size === 0 && this.#queue.length === 0 && this.#sources.every((s) => !s.scanning && !s.dirty);
  }

  /** Resolves `scanComplete` and ends `next()` (watch: false) when their conditions hold. */
  #settle(): void {
    if (!this.#scanCompleted && this.#intake.scansStarted && this.#candidates.initialOutstanding === 0 && this.#sources.every((s) => !s.initial)) {
      this.#scanCompleted = true;
      this.#resolveScanComplete();
    }
    if (this.#isFinished()) this.#queue.endWaits();
  }
}
