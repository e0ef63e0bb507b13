/** Signals of a background delivery loop (the outbox sender, a sink's loop): a sleep that new work cuts short, promises kept until the loop reaches a state, and a wait bounded by a deadline (its close). */

/** Longest single sleep: a loop re-reads its queue at least this often even if its clock or queue said later. */
const MAX_SLEEP_MS = 60_000;

/** A sleep that `wake()` ends early; a wake while the loop is not sleeping is dropped (the loop reads its queue before sleeping again). */
export class LoopWakeup {
  #resolve: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** Ends the current sleep, if any. */
  wake(): void {
    const r = this.#resolve;
    this.#resolve = undefined;
    r?.();
  }

  /** Sleeps `ms` (at most a minute), or until `wake()` when `ms` is null. */
  sleep(ms: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      // Not unref'd: callers awaiting idle()/settled() rely on the retry timer to keep the loop alive.
      if (ms !== null) this.#timer = setTimeout(() => this.wake(), Math.min(ms, MAX_SLEEP_MS));
    }).finally(() => {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    });
  }
}

/** Promises that resolve once `reached()` holds: checked at `wait()` and at each `notify()`. */
export class StateWaiters {
  readonly #reached: () => boolean;
  #waiting: (() => void)[] = [];

  constructor(reached: () => boolean) {
    this.#reached = reached;
  }

  /** Resolves at once if the state holds, else at the first `notify()` (or `releaseAll()`) that finds it. */
  wait(): Promise<void> {
    if (this.#reached()) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Releases every waiter if the state holds now. */
  notify(): void {
    if (this.#reached()) this.releaseAll();
  }

  /** Releases every waiter whatever the state (on close). */
  releaseAll(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w();
  }
}

/** Waits for `p` at most `ms` (a close's drain deadline); true when it settled (resolved or rejected) in time. */
export async function withDeadline(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return settled;
}
