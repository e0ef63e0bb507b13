/** Memory of the files handed out, so that each version of a file (size and mtime) is handed out once; kept small with the ledger's help. */
import type { WatchFolder } from '../config/schema.js';
import type { SkipReason } from './ignore.js';
import type { WatchedFile } from './watched-file.js';

/** Size of the memory at which the files the ledger already knows are forgotten. */
const PRUNE_MIN = 4_096;

function sameVersion(a: { sizeBytes: number; mtimeMs: number }, b: { sizeBytes: number; mtimeMs: number }): boolean {
  return a.sizeBytes === b.sizeBytes && a.mtimeMs === b.mtimeMs;
}

/**
 * Each file handed out, until it is unlinked or the ledger (`isDone`) knows it: past a threshold,
 * those the ledger has recorded are forgotten in bulk, since it answers for them.
 */
export class HandedOut {
  readonly #files = new Map<string, WatchedFile>();
  readonly #isDone: ((file: WatchedFile) => boolean) | undefined;
  #pruneAt = PRUNE_MIN;

  constructor(isDone: ((file: WatchedFile) => boolean) | undefined) {
    this.#isDone = isDone;
  }

  /** Why this version of a file needs no hand-out: `unchanged` (handed out already), `done` (the ledger has it); undefined otherwise. */
  alreadyHandled(folder: WatchFolder, path: string, sizeBytes: number, mtimeMs: number): SkipReason | undefined {
    const known = this.#files.get(path);
    if (known && sameVersion(known, { sizeBytes, mtimeMs })) return 'unchanged';
    let done = false;
    try {
      done = this.#isDone?.({ path, folder, sizeBytes, mtimeMs, settled: true, seenAt: 0 }) ?? false;
    } catch {
      done = false; // the ledger's failure surfaces when the consumer uses it
    }
    if (done) {
      this.#files.delete(path);
      return 'done';
    }
    return undefined;
  }

  /** Records a file handed out. */
  remember(file: WatchedFile): void {
    this.#files.set(file.path, file);
    if (this.#files.size < this.#pruneAt || !this.#isDone) return;
    for (const [path, known] of this.#files) {
      try {
        if (this.#isDone(known)) this.#files.delete(path);
      } catch {
        break;
      }
    }
    this.#pruneAt = Math.max(PRUNE_MIN, 2 * this.#files.size);
  }

  /** Forgets the file at `path` (unlinked, or changed while queued). */
  forget(path: string): void {
    this.#files.delete(path);
  }

  /** Forgets the hand-out of `file` only if it is this version: a newer one already handed out is not handed out again. */
  forgetVersion(file: WatchedFile): void {
    const known = this.#files.get(file.path);
    if (known && sameVersion(known, file)) this.#files.delete(file.path);
  }
}
