/** The stability checks: files followed until their size and mtime stay unchanged for `stableMs` (or, eagerly, until first seen with content). */
import type { Stats } from 'node:fs';
import type { WatchFolder } from '../config/schema.js';
import type { Closers, Release } from './closers.js';
import { notAFileReason, statEntry, statFailureReason, type SkipReason } from './ignore.js';
import type { WatchedFile } from './watched-file.js';

/**
 * How long an empty file must stay empty before it is handed out (watch mode; at least stableMs).
 * A writer creates the file before writing to it, and under load the first write can come later
 * than stableMs: an empty file taken as finished would be rejected and moved while being written.
 */
const EMPTY_SETTLE_MS = 5_000;

/** A file followed by the checks. */
export interface Candidate {
  path: string;
  folder: WatchFolder;
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

export interface CandidatesOptions {
  stableMs: number;
  /** Interval of the check rounds. */
  pollMs: number;
  /** At most this many files are followed (events beyond it are deferred to a scan). */
  maxPending: number;
  watch: boolean;
  eager: boolean;
}

/** What the checks need from the watcher. */
export interface CandidatesHooks {
  /** Why a file first seen with this size and mtime needs no hand-out (see `HandedOut.alreadyHandled`). */
  alreadyHandled(folder: WatchFolder, path: string, sizeBytes: number, mtimeMs: number): SkipReason | undefined;
  observed(info: { path: string; sizeBytes: number; mtimeMs: number }): void;
  skipped(path: string, reason: SkipReason): void;
  /** After a round: move the stable files on (before the next round is scheduled). */
  promote(): void;
  /** At the end of a round. */
  afterRound(): void;
}

/**
 * The followed files and their check rounds: a stat per file that is not stable yet or that an event
 * reported changed, every `pollMs` (at once when an eager hand-out may be due). The round timer is on
 * the watcher's closers.
 */
export class Candidates {
  readonly #options: CandidatesOptions;
  readonly #closers: Closers;
  readonly #hooks: CandidatesHooks;
  readonly #pending = new Map<string, Candidate>();
  #timer: Release | undefined;
  #immediate: Release | undefined;
  #ticking = false;
  #checkAgainNow = false;
  /** Files of the initial scan not yet handed out or skipped. */
  initialOutstanding = 0;
  /** Check rounds done. */
  checks = 0;

  constructor(options: CandidatesOptions, closers: Closers, hooks: CandidatesHooks) {
    this.#options = options;
    this.#closers = closers;
    this.#hooks = hooks;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** No room for one more: new files wait for a scan. */
  get full(): boolean {
    return this.#pending.size >= this.#options.maxPending;
  }

  has(path: string): boolean {
    return this.#pending.has(path);
  }

  /** Follows a file; `sizeBytes` -1 when not stat'ed yet; `eagerTried` when it was handed out eagerly once already. */
  add(folder: WatchFolder, path: string, sizeBytes: number, mtimeMs: number, initial: boolean, eagerTried = false): void {
    // A scan or an event's stat already knows size and mtime: an eager candidate is ready at once (stat'ed again only if an event reports a change).
    const ready = this.#options.eager && !eagerTried && sizeBytes > 0;
    this.#pending.set(path, { path, folder, sizeBytes, mtimeMs, observedAt: performance.now(), stable: ready, initial, eager: ready, eagerTried, changed: false });
    if (initial) this.initialOutstanding += 1;
    if (sizeBytes >= 0) this.#hooks.observed({ path, sizeBytes, mtimeMs });
    this.#schedule(this.#options.eager && !eagerTried);
  }

  /** An event reported a change of `path`; false when it is not followed. */
  touch(path: string): boolean {
    const candidate = this.#pending.get(path);
    if (!candidate) return false;
    // The next round stats it again (a ready candidate waiting for room is otherwise not re-stat'ed).
    candidate.changed = true;
    this.#schedule();
    return true;
  }

  /** The initial scan met `path`, already followed: it now counts in the initial scan's outstanding files. */
  markInitial(path: string): void {
    const candidate = this.#pending.get(path);
    if (!candidate || candidate.initial) return;
    candidate.initial = true;
    this.initialOutstanding += 1;
  }

  /** The stable files, in the order they were first followed. */
  *stable(): Generator<Candidate, void, undefined> {
    for (const candidate of this.#pending.values()) if (candidate.stable) yield candidate;
  }

  /** Stops following a stable file and gives it as handed out. */
  take(candidate: Candidate): WatchedFile {
    this.#remove(candidate);
    return { path: candidate.path, folder: candidate.folder, sizeBytes: candidate.sizeBytes, mtimeMs: candidate.mtimeMs, settled: !candidate.eager, seenAt: candidate.observedAt };
  }

  clear(): void {
    this.#pending.clear();
  }

  #remove(candidate: Candidate, reason?: SkipReason): void {
    this.#pending.delete(candidate.path);
    if (candidate.initial) this.initialOutstanding -= 1;
    if (reason) this.#hooks.skipped(candidate.path, reason);
  }

  #schedule(now = false): void {
    if (this.#closers.closed) return;
    if (this.#ticking) {
      if (now) this.#checkAgainNow = true;
      return;
    }
    if (this.#immediate) return;
    if (now) {
      // setImmediate, not setTimeout(0): a timer waits at least 1 ms, on the path of every new file.
      void this.#timer?.();
      this.#timer = undefined;
      this.#immediate = this.#closers.immediate(() => {
        this.#immediate = undefined;
        void this.#check();
      });
      return;
    }
    this.#timer ??= this.#closers.timeout(() => void this.#check(), this.#options.pollMs);
  }

  /**
   * One round of stability checks: a stat per pending file that is not ready yet or that an event
   * reported changed. Ready files waiting for room in the queue are not stat'ed again every round
   * (a change the events missed is still caught: the consumer checks size and mtime, or the read fails).
   */
  async #check(): Promise<void> {
    this.#timer = undefined;
    if (this.#closers.closed) return;
    this.#ticking = true;
    try {
      const due = [...this.#pending.values()].filter((c) => !c.stable || c.changed || c.sizeBytes < 0);
      await Promise.all(due.map((c) => this.#checkOne(c)));
    } finally {
      this.#ticking = false;
    }
    if (this.#closers.closed) return;
    this.checks += 1;
    this.#hooks.promote();
    const again = this.#checkAgainNow;
    this.#checkAgainNow = false;
    if (this.#pending.size > 0) this.#schedule(again);
    this.#hooks.afterRound();
  }

  async #checkOne(candidate: Candidate): Promise<void> {
    candidate.changed = false;
    let stats: Stats;
    try {
      stats = await statEntry(candidate.path, candidate.folder.followSymlinks);
    } catch (err) {
      if (this.#pending.get(candidate.path) === candidate) this.#remove(candidate, statFailureReason(err));
      return;
    }
    if (this.#pending.get(candidate.path) !== candidate) return;
    if (!stats.isFile()) {
      this.#remove(candidate, notAFileReason(stats));
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
      const handled = first ? this.#hooks.alreadyHandled(candidate.folder, candidate.path, stats.size, stats.mtimeMs) : undefined;
      if (handled) this.#remove(candidate, handled);
      else {
        this.#hooks.observed({ path: candidate.path, sizeBytes: stats.size, mtimeMs: stats.mtimeMs });
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
}
