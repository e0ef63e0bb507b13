/**
 * The champion first, inside a host: a hook before every TF.js kernel of a host's thread that runs
 * the champion requests waiting on the host's urgent lane, so that a champion request sent to a host
 * busy with a shadow prediction (InceptionV3: about 400 ms) starts within one kernel (a few ms)
 * instead of at the shadow's end. The shadow's prediction is paused meanwhile, its intermediate
 * tensors kept, and the pause is not counted in its latency. The same hook makes a shadow prediction
 * wait while the pool signals champion pressure (the champion's work, decoding included, needs
 * every core): the shadow then takes no CPU from it at all.
 *
 * Why running a model from inside another one's kernel hook is safe: the hook runs in TF.js's
 * engine between two op-level kernel calls; wasm and cpu kernels never call back into the engine
 * and hold no view of the wasm memory across calls, and the champion's prediction disposes every
 * tensor it makes (checked by tests: same predictions, no tensor left).
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';

/** Main thread → host, beside the host's ordinary message queue: champion requests to run at the next kernel. */
export interface UrgentLane {
  /** Requests, one message each. */
  port: MessagePort;
  /**
   * Word 0: requests posted and not taken yet (the main thread adds, the host subtracts); word 1: 1
   * while the host runs a prediction from its ordinary queue; word 2: urgent requests run inside one;
   * word 3: 1 while the champion needs every core (a prediction from the queue waits between kernels);
   * word 4: how many times such a prediction has waited.
   */
  words: SharedArrayBuffer;
}

/** The lane's shared words. */
export const LANE_WORDS = { pending: 0, busy: 1, interrupts: 2, pressure: 3, waits: 4 } as const;

/** A new lane's shared words (see {@link UrgentLane.words}). */
export function laneWords(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * Object.keys(LANE_WORDS).length);
}

/** Atomics.waitAsync (Node ≥ 16; not in TypeScript's ES2023 library). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { value: Promise<string> | string } }).waitAsync;

/** The main thread's side of an urgent lane. */
export class UrgentSender {
  readonly #port: MessagePort;
  readonly #words: Int32Array;

  constructor(lane: UrgentLane) {
    this.#port = lane.port;
    this.#words = new Int32Array(lane.words);
  }

  /** Posts one request; the host takes it at its next kernel, or from its event loop when idle. */
  post(message: unknown, transfer: ArrayBuffer[]): void {
    this.#port.postMessage(message, transfer);
    // After the post: a host that sees the count finds the message on its port.
    Atomics.add(this.#words, LANE_WORDS.pending, 1);
    // A host waiting under pressure wakes up for it.
    Atomics.notify(this.#words, LANE_WORDS.pressure);
  }

  /** Holds (`true`) or releases the host's queued predictions between kernels. */
  pressure(held: boolean): void {
    const value = held ? 1 : 0;
    if (Atomics.exchange(this.#words, LANE_WORDS.pressure, value) !== value && !held) Atomics.notify(this.#words, LANE_WORDS.pressure);
  }

  /** Urgent requests the host has run inside another prediction so far. */
  get interrupts(): number {
    return Atomics.load(this.#words, LANE_WORDS.interrupts);
  }

  /** Resolves once the host's queued predictions have waited under pressure more than `count` times. */
  async waitedBeyond(count: number): Promise<void> {
    for (let n = Atomics.load(this.#words, LANE_WORDS.waits); n <= count; n = Atomics.load(this.#words, LANE_WORDS.waits)) await waitAsync(this.#words, LANE_WORDS.waits, n).value;
  }

  /** Resolves once the host runs a prediction from its ordinary queue (tests: to interrupt it). */
  async busy(): Promise<void> {
    while (Atomics.load(this.#words, LANE_WORDS.busy) === 0) await waitAsync(this.#words, LANE_WORDS.busy, 0).value;
  }

  close(): void {
    this.#port.close();
  }
}

/** The host's side: time spent running urgent work inside other predictions (subtracted from their latencies). */
export interface KernelGate {
  pausedMs(): number;
  /** Marks a prediction from the ordinary queue as running (`true`) or done. */
  busy(running: boolean): void;
}

/**
 * Installs the hook in this thread's TF.js engine (once, in a host, after loading): `run` handles one
 * urgent request, synchronously. Requests arriving while the host is idle run from its event loop.
 */
export function installKernelGate(lane: UrgentLane, run: (request: unknown) => void): KernelGate {
  const words = new Int32Array(lane.words);
  let paused = 0;
  let running = false;
  /** Runs `request` (never nested in another urgent run) and counts its time as a pause of whatever it interrupted. */
  const runOne = (request: unknown, interrupting: boolean) => {
    Atomics.sub(words, LANE_WORDS.pending, 1);
    if (interrupting) Atomics.add(words, LANE_WORDS.interrupts, 1);
    const started = performance.now();
    running = true;
    try {
      run(request);
    } finally {
      running = false;
      paused += performance.now() - started;
    }
  };
  const engine = tf.engine() as unknown as { runKernel: (...args: unknown[]) => unknown };
  const runKernel = engine.runKernel.bind(engine);
  const takeUrgent = () => {
    for (let taken = receiveMessageOnPort(lane.port); taken; taken = receiveMessageOnPort(lane.port)) runOne(taken.message, true);
  };
  engine.runKernel = (...args: unknown[]) => {
    if (!running) {
      if (Atomics.load(words, LANE_WORDS.pending) > 0) takeUrgent();
      if (Atomics.load(words, LANE_WORDS.pressure) === 1) {
        const before = paused;
        const started = performance.now();
        Atomics.add(words, LANE_WORDS.waits, 1);
        Atomics.notify(words, LANE_WORDS.waits);
        while (Atomics.load(words, LANE_WORDS.pressure) === 1) {
          // Woken by the release or by an urgent request; the timeout only bounds a wait nobody would end.
          if (Atomics.load(words, LANE_WORDS.pending) > 0) takeUrgent();
          else Atomics.wait(words, LANE_WORDS.pressure, 1, 1000);
        }
        // The whole wait is a pause, the urgent runs within it included (runOne counted those already).
        paused = before + (performance.now() - started);
      }
    }
    return runKernel(...args);
  };
  lane.port.on('message', (request: unknown) => runOne(request, false));
  return {
    pausedMs: () => paused,
    busy: (value) => {
      Atomics.store(words, LANE_WORDS.busy, value ? 1 : 0);
      Atomics.notify(words, LANE_WORDS.busy);
    },
  };
}
