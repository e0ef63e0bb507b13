/** The champion and shadow models on worker-thread hosts of one backend, fed by a champion-first scheduler (the shadow never delays the champion). */
import { availableParallelism } from 'node:os';
import { EdgewatchError } from '../errors.js';
import type { DecodedInput } from '../types.js';
import type { BackendName } from './backend.js';
import type { ModelInfo, OriginalSize, TimedPrediction } from './model-runner.js';
import { ModelWorker, type ModelWorkerOptions, type WorkerMemory } from './model-worker.js';
import { ChampionPressure } from './kernel-gate.js';
import { CHAMPION, JobScheduler, type ModelJob } from './scheduler.js';

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

export interface ModelPoolOptions extends Omit<ModelWorkerOptions, 'name' | 'niceness'> {
  /**
   * Champion hosts, and half as many shadow hosts (rounded up) when there is a shadow; 1 = one host holding both models
   * (the low-memory mode); the `tensorflow` backend always gets one host holding every model.
   */
  workers: number;
  /** Shadow hosts beside the champion hosts (default {@link shadowHostCount}(workers)); ignored with `workers: 1` and on `tensorflow`. */
  shadowWorkers?: number;
  /** Niceness of the shadow hosts' threads (default 19: they get the CPU the champion's leave); 0 leaves them as they are. */
  shadowNiceness?: number;
}

/** One worker thread of the pool, for the log. */
export interface HostInfo {
  /** Pool model indexes it holds (0 = champion). */
  models: number[];
  backend: string;
  /** OS niceness of its thread (0 where a thread cannot be reniced, e.g. macOS and Windows). */
  niceness: number;
}

const SHADOW_NICENESS = 19;

interface Host {
  worker: ModelWorker;
  role: 'champion' | 'shadow' | 'all';
}

type ModelSpec = { dir: string; name?: string };

/**
 * The layout per backend: `wasm`/`cpu` get `workers` champion hosts (champion only) and, with a
 * shadow, `shadowHostCount(workers)` shadow hosts (shadow only, threads at low OS priority), or
 * with `workers: 1` one host holding both; `tensorflow` gets one
 * host holding every model (libtensorflow spreads one model over every core by itself, and
 * tfjs-node cannot load in a second worker thread: tensorflow/tfjs#8388). The backend is resolved
 * once, by the first champion host; every other host is started with that explicit backend.
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
  /** Held while champion work needs the cores: the shadow hosts wait between kernels (split layout only). */
  readonly #pressure: ChampionPressure | undefined;

  private constructor(hosts: Host[], note: string | undefined, pressure?: ChampionPressure) {
    const cores = availableParallelism();
    // Champion pressure: every core runs the champion, or a champion job waits for a host.
    this.#scheduler = new JobScheduler(cores, pressure ? (running, queued) => pressure.set(queued > 0 || running >= cores) : undefined);
    this.#pressure = pressure;
    this.#hosts = hosts;
    this.#started = hosts.map((h) => h.worker);
    this.note = note;
    for (const host of hosts) {
      this.#scheduler.addHost(host.worker, hostModels(host));
      void host.worker.crashed.then(() => this.#drop(host));
    }
    const infos = [...(hosts[0] as Host).worker.infos];
    const shadowHost = hosts.find((h) => h.role === 'shadow');
    if (shadowHost) infos.push(...shadowHost.worker.infos);
    const scheduler = this.#scheduler;
    this.models = infos.map((info, index) => ({
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
    const { workers, shadowWorkers = shadowHostCount(workers), shadowNiceness = SHADOW_NICENESS, ...workerOptions } = options;
    const hosts: Host[] = [];
    try {
      const preference = workerOptions.backend ?? 'auto';
      let backend: BackendName | undefined = preference === 'wasm' || preference === 'cpu' ? preference : undefined;
      if (!backend) {
        const first = await ModelWorker.startMany([champion], workerOptions);
        hosts.push({ worker: first, role: 'champion' });
        backend = first.backend as BackendName;
        if (backend === 'tensorflow') {
          for (const shadow of shadows) await first.load(shadow);
          hosts[0] = { worker: first, role: 'all' };
          const asked = workers > 1 ? `; workers: ${workers} does not apply` : '';
          const note = `backend tensorflow: one model host holds ${shadows.length > 0 ? 'the champion and the shadow (champion jobs first)' : 'the champion'}: libtensorflow uses every core itself and tfjs-node cannot load in a second worker thread${asked}`;
          return new ModelPool(hosts, note);
        }
      }
      const explicit = { ...workerOptions, backend };
      if (workers === 1 && shadows.length > 0) {
        // The low-memory mode: one thread and one wasm memory for both models, champion jobs first.
        const shared = hosts[0]?.worker ?? (await ModelWorker.startMany([champion], explicit));
        hosts[0] = { worker: shared, role: 'all' };
        for (const shadow of shadows) await shared.load(shadow);
        return new ModelPool(hosts, 'workers: 1: one model host holds the champion and the shadow (champion jobs first; the least memory, and the shadow may delay the next champion prediction by one shadow prediction)');
      }
      const starts: Promise<Host>[] = [];
      for (let i = hosts.length; i < workers; i++) starts.push(ModelWorker.startMany([champion], explicit).then((worker) => ({ worker, role: 'champion' })));
      const pressure = shadows.length > 0 ? new ChampionPressure() : undefined;
      if (pressure) {
        for (let i = 0; i < shadowWorkers; i++) starts.push(ModelWorker.startMany(shadows, { ...explicit, niceness: shadowNiceness, yieldTo: pressure.buffer }).then((worker) => ({ worker, role: 'shadow' })));
      }
      const started = await Promise.allSettled(starts);
      for (const r of started) if (r.status === 'fulfilled') hosts.push(r.value);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      hosts.sort((a, b) => (a.role === b.role ? 0 : a.role === 'champion' ? -1 : 1));
      return new ModelPool(hosts, undefined, pressure);
    } catch (err) {
      await Promise.allSettled(hosts.map((h) => h.worker.close()));
      throw err instanceof EdgewatchError ? err : new EdgewatchError('EW_MODEL_LOAD', String(err), { cause: err });
    }
  }

  /** Number of worker threads (hosts). */
  get size(): number {
    return this.#hosts.length;
  }

  /** The hosts, champion hosts first. */
  get hosts(): HostInfo[] {
    return this.#hosts.map((h) => ({ models: [...hostModels(h).keys()], backend: h.worker.backend, niceness: h.worker.niceness }));
  }

  /**
   * Measures the champion's images/s on one champion host against all champion hosts at once
   * (`rounds` predictions each of a grey image, nothing else dispatched meanwhile) and, when the
   * extra hosts do not pay (less than `minGain`×, e.g. fewer real cores than reported), keeps
   * one champion host and one shadow host. Returns the figures for the log.
   */
  calibrate(rounds = 3, minGain = 1.15): Promise<{ oneWorkerPerSecond: number; allWorkersPerSecond: number; workers: number; kept: number }> {
    return this.#scheduler.exclusive(async () => {
      const champions = this.#hosts.filter((h) => h.role !== 'shadow');
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
        const shadowHosts = this.#hosts.filter((h) => h.role === 'shadow');
        const extra = [...champions.slice(1), ...shadowHosts.slice(1)];
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
    this.#closing ??= (async () => {
      this.#scheduler.close();
      this.#pressure?.set(false);
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
 * Shadow hosts beside `workers` champion hosts: half as many, rounded up. The shadow only gets the
 * CPU the champion leaves; with the champion at half load that is half the cores, so more shadow
 * hosts would only cost memory (one host is about 100 MB with a MobileNetV2 on wasm).
 */
export function shadowHostCount(workers: number): number {
  return Math.ceil(workers / 2);
}

/** Pool model index → the host's own model index. */
function hostModels(host: Host): Map<number, number> {
  const count = host.worker.infos.length;
  const offset = host.role === 'shadow' ? 1 : 0;
  return new Map(Array.from({ length: count }, (_, i) => [i + offset, i]));
}
