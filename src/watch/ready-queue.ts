/** The ready queue: stable files waiting for a consumer (at most `capacity`), and consumers waiting for a file. */
import type { WatchedFile } from './watched-file.js';

/** A bounded queue of stable files, and the consumers waiting on an empty one. */
export class ReadyQueue {
  readonly #capacity: number;
  #files: WatchedFile[] = [];
  readonly #paths = new Set<string>();
  #waiters: Array<(file: WatchedFile | null) => void> = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Files waiting. */
  get length(): number {
    return this.#files.length;
  }

  /** A file can be taken in: a consumer is waiting, or the queue is below capacity. */
  get hasRoom(): boolean {
    return this.#files.length < this.#capacity || this.#waiters.length > 0;
  }

  has(path: string): boolean {
    return this.#paths.has(path);
  }

  /** Gives `file` to the consumer waiting longest, or queues it. */
  push(file: WatchedFile): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter(file);
      return;
    }
    this.#files.push(file);
    this.#paths.add(file.path);
  }

  /** The oldest file, taken off the queue. */
  shift(): WatchedFile | undefined {
    const file = this.#files.shift();
    if (file) this.#paths.delete(file.path);
    return file;
  }

  /** Takes the file at `path` off the queue; false when it was not queued. */
  remove(path: string): boolean {
    if (!this.#paths.delete(path)) return false;
    this.#files = this.#files.filter((f) => f.path !== path);
    return true;
  }

  /** A consumer's wait for the next pushed file (null when `endWaits()` ends it). */
  wait(): Promise<WatchedFile | null> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Ends every wait with null. */
  endWaits(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter(null);
  }

  clear(): void {
    this.#files = [];
    this.#paths.clear();
  }
}
