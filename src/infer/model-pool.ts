/** A pool of worker threads, each holding every model: each prediction goes to the least busy worker, so both cores stay busy whatever the models' relative cost. */
import { EdgewatchError } from '../errors.js';
import type { DecodedInput } from '../types.js';
import type { ModelInfo, OriginalSize, TimedPrediction } from './model-runner.js';
import { ModelWorker, type ModelWorkerOptions, type WorkerMemory } from './model-worker.js';

/** One model of the pool, as the pipeline uses it. */
export interface PooledModel {
  readonly info: ModelInfo;
  readonly backend: string;
  predict(input: DecodedInput, original: OriginalSize): Promise<TimedPrediction>;
}

export interface ModelPoolOptions extends Omit<ModelWorkerOptions, 'name'> {
  /** Worker threads, each with its own TF.js instance and a copy of every model. */
  workers: number;
}

/**
 * N workers × M models. A worker runs one prediction at a time (latencies exclude queueing);
 * two predictions of the same image (champion, shadow) run in parallel on two idle workers, and
 * under load every worker stays busy. Models never share state: each is its own ModelRunner.
 */
export class ModelPool {
  readonly #workers: ModelWorker[];
  readonly models: readonly PooledModel[];
  #closing: Promise<void> | undefined;

  private constructor(workers: ModelWorker[]) {
    this.#workers = workers;
    const first = workers[0] as ModelWorker;
    this.models = first.infos.map((info, index) => ({
      info,
      backend: info.backend,
      predict: (input: DecodedInput, original: OriginalSize) => this.#leastBusy().predict(input, original, index),
    }));
  }

  /** Starts `workers` threads, each loading and warming up every model. Load errors keep their code and message. */
  static async start(models: { dir: string; name?: string }[], options: ModelPoolOptions): Promise<ModelPool> {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError('workers must be a positive integer');
    const started = await Promise.allSettled(Array.from({ length: options.workers }, () => ModelWorker.startMany(models, options)));
    const workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.allSettled(workers.map((w) => w.close()));
      throw failed.reason instanceof EdgewatchError ? failed.reason : new EdgewatchError('EW_MODEL_LOAD', String(failed.reason), { cause: failed.reason });
    }
    return new ModelPool(workers);
  }

  /** Number of worker threads. */
  get size(): number {
    return this.#workers.length;
  }

  #leastBusy(): ModelWorker {
    let best = this.#workers[0] as ModelWorker;
    for (const w of this.#workers) if (w.pending < best.pending) best = w;
    return best;
  }

  /**
   * Measures images/s with one worker against all workers at once (each running every model
   * `rounds` times on a grey image) and, when the extra workers do not pay (less than
   * `minGain`× — e.g. a natively multi-threaded backend, or fewer real cores than reported),
   * closes all but one. Returns the figures for the log.
   */
  async calibrate(rounds = 3, minGain = 1.15): Promise<{ oneWorkerPerSecond: number; allWorkersPerSecond: number; workers: number; kept: number }> {
    const inputs = this.models.map((m) => ({ spec: m.info.input, pixels: new Uint8Array(m.info.input.width * m.info.input.height * m.info.input.channels).fill(128) }));
    const original = { width: 640, height: 480 };
    const run = async (worker: ModelWorker) => {
      for (let r = 0; r < rounds; r++) for (const [i, input] of inputs.entries()) await worker.predict(input, original, i);
    };
    let t0 = performance.now();
    await run(this.#workers[0] as ModelWorker);
    const oneWorkerPerSecond = rounds / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    await Promise.all(this.#workers.map((w) => run(w)));
    const allWorkersPerSecond = (rounds * this.#workers.length) / ((performance.now() - t0) / 1000);
    const workers = this.#workers.length;
    if (workers > 1 && allWorkersPerSecond < oneWorkerPerSecond * minGain) {
      const extra = this.#workers.splice(1);
      await Promise.allSettled(extra.map((w) => w.close()));
    }
    return { oneWorkerPerSecond, allWorkersPerSecond, workers, kept: this.#workers.length };
  }

  /** Tensor memory of every worker. */
  memory(): Promise<WorkerMemory[]> {
    return Promise.all(this.#workers.map((w) => w.memory()));
  }

  /** Terminates every worker. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.allSettled(this.#workers.map((w) => w.close())).then(() => undefined);
    return this.#closing;
  }
}
