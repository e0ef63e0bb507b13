/**
 * Champion pressure, shared between the main thread and the shadow hosts: a one-word
 * SharedArrayBuffer the scheduler sets while champion work would compete with the shadow, and a
 * gate that makes a shadow host wait between two TF.js kernels while it is set. A running shadow
 * prediction (InceptionV3: about 460 ms) thus gives the cores back within one kernel (a few ms)
 * instead of at its end; OS priorities alone did not (caches and memory bandwidth are shared).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Atomics.waitAsync (Node ≥ 16; not in TypeScript's ES2023 library). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { value: Promise<string> | string } }).waitAsync;

/** The main thread's side: hold or release the shadow hosts. */
export class ChampionPressure {
  /** Word 0: 1 while held; word 1: how many times a shadow kernel waited (for the log and tests). */
  readonly buffer = new SharedArrayBuffer(8);
  readonly #flag = new Int32Array(this.buffer);

  set(held: boolean): void {
    const value = held ? 1 : 0;
    if (Atomics.exchange(this.#flag, 0, value) !== value && !held) Atomics.notify(this.#flag, 0);
  }

  /** Times a shadow host has paused between kernels so far. */
  get pauses(): number {
    return Atomics.load(this.#flag, 1);
  }

  /** Resolves once the pause count exceeds `count` (a shadow kernel is waiting). */
  async pausedBeyond(count: number): Promise<void> {
    while (Atomics.load(this.#flag, 1) <= count) await waitAsync(this.#flag, 1, Atomics.load(this.#flag, 1)).value;
  }
}

/** The shadow host's side: milliseconds spent waiting so far (subtracted from the latencies it reports). */
export interface KernelGate {
  pausedMs(): number;
}

/** Makes every kernel of this thread's TF.js wait while `buffer` holds 1. Call once, in a worker thread. */
export function installKernelGate(buffer: SharedArrayBuffer): KernelGate {
  const flag = new Int32Array(buffer);
  let paused = 0;
  const engine = tf.engine() as unknown as { runKernel: (...args: unknown[]) => unknown };
  const runKernel = engine.runKernel.bind(engine);
  engine.runKernel = (...args: unknown[]) => {
    if (Atomics.load(flag, 0) === 1) {
      const started = performance.now();
      Atomics.add(flag, 1, 1);
      Atomics.notify(flag, 1);
      // Woken by ChampionPressure.set(false); the timeout only bounds a wait nobody would end.
      while (Atomics.load(flag, 0) === 1) Atomics.wait(flag, 0, 1, 1000);
      paused += performance.now() - started;
    }
    return runKernel(...args);
  };
  return { pausedMs: () => paused };
}
