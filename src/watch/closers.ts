/** The one list of what the watcher must release on close: event sources, scans, timers and immediates. */

/** Releases one registered resource (its closer runs at most once) and takes it off the list. Never rejects. */
export type Release = () => Promise<void>;

/**
 * A list of closers, like chokidar's `_closers`: whatever the watcher starts is registered with the
 * function that releases it, and `close()` runs them all. A closer registered after `close()` runs at
 * once, so work still in flight when `close()` ran (a folder being revived) needs no special case:
 * what it starts is released as soon as it is registered.
 *
 * ```ts
 * const closers = new Closers();
 * const release = closers.add(() => handle.close());   // release() early: closed now, off the list
 * closers.timeout(() => check(), 50);                  // off the list by itself once it fires
 * await closers.close();                               // everything still on the list, once
 * ```
 */
export class Closers {
  readonly #open = new Set<Release>();
  #closed = false;
  #closing: Promise<void> | undefined;

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How many resources are registered (for tests). */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Registers `close`, the function that releases a resource; returns the function that releases it
   * early. After `close()`, `close` runs at once. Errors of closers are ignored: a resource that
   * fails to close is gone as far as the watcher is concerned.
   */
  add(close: () => unknown): Release {
    let released: Promise<void> | undefined;
    const release: Release = () => {
      released ??= (async () => {
        this.#open.delete(release);
        try {
          await close();
        } catch {
          // nothing more can be done with it
        }
      })();
      return released;
    };
    if (this.#closed) void release();
    else this.#open.add(release);
    return release;
  }

  /** `setTimeout` on the list until it fires. */
  timeout(run: () => void, ms: number): Release {
    const timer = setTimeout(() => {
      void release();
      run();
    }, ms);
    const release = this.add(() => clearTimeout(timer));
    return release;
  }

  /** `setImmediate` on the list until it runs. */
  immediate(run: () => void): Release {
    const immediate = setImmediate(() => {
      void release();
      run();
    });
    const release = this.add(() => clearImmediate(immediate));
    return release;
  }

  /** `setInterval` on the list until released; `unref` lets the process exit while it runs. */
  interval(run: () => void, ms: number, options: { unref?: boolean } = {}): Release {
    const timer = setInterval(run, ms);
    if (options.unref) timer.unref();
    return this.add(() => clearInterval(timer));
  }

  /** Releases everything registered, all at once; idempotent (returns the same promise). */
  close(): Promise<void> {
    if (!this.#closing) {
      // Set before any closer runs: a closer that registers something sees the list closed.
      this.#closed = true;
      this.#closing = Promise.all([...this.#open].map((release) => release())).then(() => undefined);
    }
    return this.#closing;
  }
}
