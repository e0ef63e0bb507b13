/** What file-system events and scanned files become: skipped, a change of a followed file, a new candidate, or (no room) a later scan of their folder. */
import type { Stats } from 'node:fs';
import type { Candidates } from './candidates.js';
import type { Closers } from './closers.js';
import type { FolderSource } from './folder-source.js';
import type { HandedOut } from './handed-out.js';
import { statEntry, statFailureReason, type SkipReason } from './ignore.js';
import type { ReadyQueue } from './ready-queue.js';
import { fileSkipReason, type ScannedFile } from './scan.js';

/** The watcher's parts the intake feeds and consults. */
export interface IntakeParts {
  sources: readonly FolderSource[];
  candidates: Candidates;
  queue: ReadyQueue;
  handedOut: HandedOut;
  closers: Closers;
  skipped(path: string, reason: SkipReason): void;
  /** Re-evaluates scanComplete and the end of a `watch: false` run. */
  settle(): void;
}

/**
 * Takes files in from the folders' events and scans. Memory stays bounded: when the candidates are
 * full an event only marks its folder dirty, and the folders' scans are fed in (`pump`) only while
 * there is room, so no file is lost.
 */
export class Intake {
  /** Events not held because the candidates were full (their folder is re-scanned later). */
  deferredEvents = 0;
  readonly #parts: IntakeParts;
  #scanning = false;
  #pumping = false;
  #pumpAgain = false;

  constructor(parts: IntakeParts) {
    this.#parts = parts;
  }

  /** The scans were started (`startScans`). */
  get scansStarted(): boolean {
    return this.#scanning;
  }

  /** From now on the dirty folders are scanned whenever there is room. */
  startScans(): void {
    this.#scanning = true;
    void this.pump();
  }

  /** `path` was added or changed (or an event could not be taken the fast way). */
  changed(source: FolderSource, path: string): void {
    const { candidates, queue, handedOut, closers } = this.#parts;
    if (closers.closed) return;
    const reason = fileSkipReason(source.rules, path);
    if (reason) {
      this.#parts.skipped(path, reason);
      return;
    }
    if (candidates.touch(path)) return;
    if (queue.remove(path)) {
      // Changed while waiting in the queue: back to the stability checks (may exceed the pending bound by at most `capacity`).
      handedOut.forget(path);
      candidates.add(source.folder, path, -1, -1, false);
      return;
    }
    if (candidates.full) {
      this.deferredEvents += 1;
      source.dirty = true;
      return;
    }
    candidates.add(source.folder, path, -1, -1, false);
  }

  /** An fs.watch event for `path`: a file added or changed goes to the stability checks, a removed one is forgotten. */
  async named(source: FolderSource, path: string): Promise<void> {
    const { candidates, queue, handedOut, closers } = this.#parts;
    const reason = fileSkipReason(source.rules, path);
    if (reason) {
      this.#parts.skipped(path, reason);
      return;
    }
    // Already followed, or no room: the generic event handling (re-check, or a rescan later).
    const forGenericHandling = () => candidates.has(path) || queue.has(path) || candidates.full;
    if (forGenericHandling()) {
      this.changed(source, path);
      return;
    }
    let stats: Stats;
    try {
      stats = await statEntry(path, source.rules.followSymlinks);
    } catch (err) {
      if (statFailureReason(err) === 'vanished') this.removed(path);
      else this.changed(source, path);
      return;
    }
    if (closers.closed) return;
    if (!stats.isFile()) {
      if (stats.isSymbolicLink()) this.#parts.skipped(path, 'symlink');
      return;
    }
    if (forGenericHandling()) {
      this.changed(source, path);
      return;
    }
    if (handedOut.alreadyHandled(source.folder, path, stats.size, stats.mtimeMs)) return;
    candidates.add(source.folder, path, stats.size, stats.mtimeMs, false);
  }

  /** `path` was removed: forgotten, and taken off the queue. */
  removed(path: string): void {
    this.#parts.handedOut.forget(path);
    this.#parts.queue.remove(path);
  }

  /** Feeds the folders' scans into the candidates while there is room; one pump at a time. */
  async pump(): Promise<void> {
    if (!this.#scanning) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        for (const source of this.#parts.sources) await this.#scanSome(source);
      } while (this.#pumpAgain && !this.#parts.closers.closed);
    } finally {
      this.#pumping = false;
    }
    this.#parts.settle();
  }

  async #scanSome(source: FolderSource): Promise<void> {
    const { candidates, closers } = this.#parts;
    while (!closers.closed && !source.failed && !candidates.full) {
      const step = await source.nextScanned();
      if (closers.closed || step === 'idle') return;
      if (step === 'ended') {
        this.#parts.settle();
        continue;
      }
      await this.#considerScanned(source, step);
    }
  }

  async #considerScanned(source: FolderSource, file: ScannedFile): Promise<void> {
    const { candidates, queue, handedOut, closers } = this.#parts;
    const { path } = file;
    const initial = source.initial;
    if (file.skip) {
      if (initial) this.#parts.skipped(path, file.skip);
      return;
    }
    if (candidates.has(path)) {
      if (initial) candidates.markInitial(path);
      return;
    }
    if (queue.has(path)) return;
    let stats: Stats;
    try {
      stats = await statEntry(path, source.rules.followSymlinks);
    } catch (err) {
      this.#parts.skipped(path, statFailureReason(err));
      return;
    }
    if (closers.closed || candidates.has(path) || queue.has(path)) return;
    if (!stats.isFile()) {
      if (stats.isSymbolicLink()) this.#parts.skipped(path, 'symlink');
      return;
    }
    const handled = handedOut.alreadyHandled(source.folder, path, stats.size, stats.mtimeMs);
    if (handled) {
      if (handled === 'done') this.#parts.skipped(path, handled);
      return;
    }
    candidates.add(source.folder, path, stats.size, stats.mtimeMs, initial);
  }
}
