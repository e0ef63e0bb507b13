/** The champion and shadow models on worker-thread hosts of one backend, fed by a champion-first scheduler (the shadow never delays the champion). */
import { availableParallelism } from 'node:os';
import { EdgewatchError } from '../errors.js';
import type { DecodedInput } from '../types.js';
import type { BackendName } from './backend.js';
import type { ModelInfo, OriginalSize, TimedPrediction } from './model-runner.js';
import { ModelWorker, type ModelWorkerOptions, type WorkerMemory } from './model-worker.js';
import { CHAMPION, JobScheduler, type JobHost, type ModelJob } from './scheduler.js';

/** One model of the pool, as the pipeline uses it. */
export interface PooledModel {
  readonly info: ModelInfo;
  readonly backend: string;
  /** One prediction: `submit(input, original).result`. */
  predict(input: DecodedInput, original: OriginalSize): Promise<TimedPrediction>;
  /** Queues one prediction; champion jobs (model 0) always run before shadow jobs. */
  submit(input: DecodedInput, original: OriginalSize): ModelJob;
  /** Jobs of this model queued and not started yet. */
  readonly queued: number;
}

export interface ModelPoolOptions extends Omit<ModelWorkerOptions, 'name'> {
  /** Model hosts (worker threads), each holding the champion; the `tensorflow` backend always gets one host holding every model. */
  workers: number;
  /** How many of the hosts also hold the shadow (default {@link shadowHostCount}(workers), at most `workers`). */
  shadowWorkers?: number;
}

/** One worker thread of the pool, for the log. */
export interface HostInfo {
  /** Pool model indexes it holds (0 = champion). */
  models: number[];
  backend: string;
  /** A champion job given to it while it runs a shadow job starts at the shadow's next kernel. */
  preemptive: boolean;
  /** Champion predictions it has started inside a running shadow prediction so far. */
  interrupts: number;
}

interface Host {
  worker: ModelWorker;
}

/** The host holds the shadow beside the champion. */
function holdsShadow(host: Host): boolean {
  return host.worker.infos.length > 1;
}

type ModelSpec = { dir: string; name?: string };

/**
 * The layout per backend: `wasm`/`cpu` get `workers` hosts, each holding the champion, of which
 * `shadowWorkers` also hold the shadow. Such a host runs a shadow job when the champion leaves it
 * idle and no image is on its way to the champion, a champion job given to it meanwhile starts at
 * the shadow's next kernel (see kernel-gate.ts), and the shadow waits between kernels while the
 * champion's work needs every core: the shadow uses the cores the champion leaves, and only those.
 * `tensorflow` gets one host holding every model (libtensorflow spreads one model over every
 * core by itself, and tfjs-node cannot load in a second worker thread: tensorflow/tfjs#8388). The
 * backend is resolved once, by the first host; every other host is started with that explicit backend.
 */
export class ModelPool {
  /** Live hosts: a crashed one leaves this list (and the scheduler), a calibrated-away one too. */
  readonly #hosts: Host[];
  /** Every host ever started, for close(). */
  readonly #started: ModelWorker[];
  readonly #scheduler: JobScheduler;
  readonly models: readonly PooledModel[];
  /** Why the layout differs from what `workers` asked for (e.g. one host for `tensorflow`), for the log. */
  readonly note: string | undefined;
  #closing: Promise<void> | undefined;

  /** Images on their way to the champion (read, decode): main-thread work the shadow yields to. */
  #ahead = 0;
  /** Champion jobs running and waiting, and the hosts running a shadow job, from the scheduler. */
  #championLoad = 0;
  #shadowHosts: readonly JobHost[] = [];
  #closed = false;
  readonly #cores: number;

  private constructor(hosts: Host[], note: string | undefined) {
    this.#cores = availableParallelism();
    this.#scheduler = new JobScheduler(
      this.#cores,
      (load, shadowHosts) => {
        this.#championLoad = load;
        this.#shadowHosts = shadowHosts;
        this.#updatePressure();
      },
      // No shadow job starts while an image is on its way to the champion: its champion job would
      // find the host busy and wait for the shadow's current kernel (up to 40 ms with InceptionV3).
      () => this.#ahead === 0,
    );
    // Hosts holding the shadow first: the calibration keeps the first host.
    hosts.sort((a, b) => Number(holdsShadow(b)) - Number(holdsShadow(a)));
    this.#hosts = hosts;
    this.#started = hosts.map((h) => h.worker);
    this.note = note;
    for (const host of hosts) {
      this.#scheduler.addHost(host.worker, hostModels(host));
      void host.worker.crashed.then(() => this.#drop(host));
    }
    const scheduler = this.#scheduler;
    this.models = (hosts[0] as Host).worker.infos.map((info, index) => ({
      info,
      backend: info.backend,
      predict: (input: DecodedInput, original: OriginalSize) => scheduler.submit(index, input, original).result,
      submit: (input: DecodedInput, original: OriginalSize) => scheduler.submit(index, input, original),
      get queued() {
        return scheduler.queued(index);
      },
    }));
  }

  /** Starts the hosts, each loading and warming up its models. Load errors keep their code and message; a failed start leaves no thread behind. */
  static async start(models: ModelSpec[], options: ModelPoolOptions): Promise<ModelPool> {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError('workers must be a positive integer');
    if (options.shadowWorkers !== undefined && (!Number.isInteger(options.shadowWorkers) || options.shadowWorkers < 1)) throw new RangeError('shadowWorkers must be a positive integer');
    const [champion, ...shadows] = models;
    if (!champion) throw new RangeError('a model pool needs at least the champion');
    const { workers, shadowWorkers = shadowHostCount(workers), ...workerOptions } = options;
    const sharing = shadows.length > 0 ? Math.min(shadowWorkers, workers) : 0;
    const hosts: Host[] = [];
    try {
      const preference = workerOptions.backend ?? 'auto';
      let backend: BackendName | undefined = preference === 'wasm' || preference === 'cpu' ? preference : undefined;
      if (!backend) {
        // The first host resolves `auto`; it then takes the shadow too when it should hold it.
        const first = await ModelWorker.startMany([champion], workerOptions);
        backend = first.backend as BackendName;
        hosts.push({ worker: first });
        if (backend === 'tensorflow' || sharing > 0) for (const shadow of shadows) await first.load(shadow);
        if (backend === 'tensorflow') {
          const asked = workers > 1 ? `; workers: ${workers} does not apply` : '';
          const note = `backend tensorflow: one model host holds ${shadows.length > 0 ? 'the champion and the shadow (champion jobs first)' : 'the champion'}: libtensorflow uses every core itself and tfjs-node cannot load in a second worker thread${asked}`;
          return new ModelPool(hosts, note);
        }
      }
      const explicit = { ...workerOptions, backend };
      const starts: Promise<Host>[] = [];
      for (let i = hosts.length; i < workers; i++) starts.push(ModelWorker.startMany(i < sharing ? [champion, ...shadows] : [champion], explicit).then((worker) => ({ worker })));
      const started = await Promise.allSettled(starts);
      for (const r of started) if (r.status === 'fulfilled') hosts.push(r.value);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const blocking = hosts.some((h) => holdsShadow(h) && !h.worker.preemptive);
      const note = blocking ? 'the champion runs only with executeAsync (a graph with control flow): a shadow prediction on a host holding both models may delay the next champion prediction by its length' : undefined;
      return new ModelPool(hosts, note);
    } catch (err) {
      await Promise.allSettled(hosts.map((h) => h.worker.close()));
      throw err instanceof EdgewatchError ? err : new EdgewatchError('EW_MODEL_LOAD', String(err), { cause: err });
    }
  }

  /**
   * Counts one image on its way to the champion (being read and decoded) until the returned
   * function is called (once its champion job is submitted, or it is dropped): that work is the
   * champion's too, and a shadow prediction waits between kernels while it and the champion jobs
   * running or waiting fill every core.
   */
  championAhead(): () => void {
    this.#ahead++;
    this.#updatePressure();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#ahead--;
      this.#updatePressure();
      if (this.#ahead === 0) this.#scheduler.wake();
    };
  }

  /**
   * Champion pressure: shadow predictions run only on the cores the champion's work leaves (its
   * jobs running or waiting, plus one core for the main thread while images are being read and
   * decoded); the others wait between two kernels, the wait not counted in their latency. A
   * shadow free to run beside a decode and a champion on two cores made a burst's last champion
   * 1.25x later (`npm run bench -- --shadow-priority`); OS priorities could not do this without a
   * thread of its own per shadow (a thread cannot lower its niceness back).
   */
  #updatePressure(): void {
    let free = this.#closed ? Number.POSITIVE_INFINITY : this.#cores - this.#championLoad - (this.#ahead > 0 ? 1 : 0);
    for (const host of this.#hosts) {
      // A host not running a shadow job is held too once no core is left, so that one starting there waits at once.
      // (Setting a host's word to what it holds already is one atomic exchange and no wake-up.)
      host.worker.pressure(this.#shadowHosts.includes(host.worker) ? free-- <= 0 : free <= 0);
    }
  }

  /** Number of worker threads (hosts). */
  get size(): number {
    return this.#hosts.length;
  }

  /** The hosts, those holding the shadow first. */
  get hosts(): HostInfo[] {
    return this.#hosts.map((h) => ({ models: [...hostModels(h).keys()], backend: h.worker.backend, preemptive: h.worker.preemptive, interrupts: h.worker.interrupts }));
  }

  /**
   * Measures the champion's images/s on one champion host against all champion hosts at once
   * (`rounds` predictions each of a grey image, nothing else dispatched meanwhile) and, when the
   * extra hosts do not pay (less than `minGain`×, e.g. fewer real cores than reported), keeps
   * the first host (one holding the shadow too, when there is one). Returns the figures for the log.
   */
  calibrate(rounds = 3, minGain = 1.15): Promise<{ oneWorkerPerSecond: number; allWorkersPerSecond: number; workers: number; kept: number }> {
    return this.#scheduler.exclusive(async () => {
      const champions = [...this.#hosts];
      const spec = (this.models[CHAMPION] as PooledModel).info.input;
      const input = { spec, pixels: new Uint8Array(spec.width * spec.height * spec.channels).fill(128) };
      const original = { width: 640, height: 480 };
      const run = async (host: Host) => {
        for (let r = 0; r < rounds; r++) await host.worker.predict(input, original, CHAMPION);
      };
      let t0 = performance.now();
      await run(champions[0] as Host);
      const oneWorkerPerSecond = rounds / ((performance.now() - t0) / 1000);
      t0 = performance.now();
      await Promise.all(champions.map(run));
      const allWorkersPerSecond = (rounds * champions.length) / ((performance.now() - t0) / 1000);
      let kept = champions.length;
      if (champions.length > 1 && allWorkersPerSecond < oneWorkerPerSecond * minGain) {
        const extra = champions.slice(1);
        for (const host of extra) this.#drop(host);
        await Promise.allSettled(extra.map((h) => h.worker.close()));
        kept = 1;
      }
      return { oneWorkerPerSecond, allWorkersPerSecond, workers: champions.length, kept };
    });
  }

  /** Tensor memory of every host. */
  memory(): Promise<WorkerMemory[]> {
    return Promise.all(this.#hosts.map((h) => h.worker.memory()));
  }

  /** Fails the queued jobs (EW_INFER_FAILED) and terminates every host. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      this.#scheduler.close();
      this.#updatePressure();
      await Promise.allSettled(this.#started.map((w) => w.close()));
    })();
    return this.#closing;
  }

  #drop(host: Host): void {
    this.#scheduler.removeHost(host.worker);
    const index = this.#hosts.indexOf(host);
    if (index >= 0) this.#hosts.splice(index, 1);
  }

  /** Test hook: makes host `index` (in `hosts` order) exit as if it had crashed. */
  crashHostForTest(index: number): void {
    this.#hosts[index]?.worker.crashForTest();
  }
}

/**
 * Hosts holding the shadow too, of `workers`: all of them. The shadow then uses every core the
 * champion leaves idle (on two cores, one host holding the shadow lost a fifth of the complete
 * images per second, `npm run bench -- --quick`); each costs the shadow's weights and activations.
 */
export function shadowHostCount(workers: number): number {
  return workers;
}

/** Pool model index → the host's own model index (the same: every host holds the champion first). */
function hostModels(host: Host): Map<number, number> {
  return new Map(host.worker.infos.map((_, i) => [i, i]));
}
