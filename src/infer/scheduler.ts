/** The model pool's queue, kept in the main thread: the oldest champion job first, shadow jobs from what is left; a pre-emptive host runs a champion job inside its running shadow job. */
import { EdgewatchError } from '../errors.js';
import type { DecodedInput } from '../types.js';
import type { OriginalSize, TimedPrediction } from './model-runner.js';

/** One prediction submitted to a pool. */
export interface ModelJob {
  /** performance.now() when a host started it; undefined while it waits in the queue. */
  readonly startedAt: number | undefined;
  /** The prediction; rejects with EW_INFER_CANCELLED after cancel(), with the worker's error otherwise. */
  readonly result: Promise<TimedPrediction>;
  /** Removes the job if it has not started (true); a started job runs to its end (false). */
  cancel(): boolean;
}

/** What the scheduler needs of a host (a ModelWorker in production). */
export interface JobHost {
  /** Runs one prediction of the host's own model `model`; the host runs one at a time. */
  predict(input: DecodedInput, original: OriginalSize, model: number): Promise<TimedPrediction>;
  /** Settles when the host has crashed; it then takes no more jobs. */
  readonly crashed: Promise<unknown>;
  /** A champion job given to the host while it runs a shadow job starts at the shadow's next kernel (the shadow pauses meanwhile). */
  readonly preemptive?: boolean;
}

/** Model index of the champion; every other index is a shadow. */
export const CHAMPION = 0;

interface Slot {
  readonly host: JobHost;
  /** Pool model index → the host's own model index. */
  readonly models: ReadonlyMap<number, number>;
  running: Promise<void> | undefined;
  /** Pool model index of the running job. */
  runningModel: number | undefined;
  /** A champion job running inside the running shadow job (pre-emptive hosts). */
  urgent: Promise<void> | undefined;
}

class QueuedJob implements ModelJob {
  startedAt: number | undefined;
  readonly result: Promise<TimedPrediction>;
  resolve!: (value: TimedPrediction) => void;
  reject!: (err: Error) => void;
  readonly #cancel: (job: QueuedJob) => boolean;

  constructor(
    readonly model: number,
    readonly input: DecodedInput,
    readonly original: OriginalSize,
    cancel: (job: QueuedJob) => boolean,
  ) {
    this.#cancel = cancel;
    this.result = new Promise<TimedPrediction>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  cancel(): boolean {
    return this.#cancel(this);
  }

  /** Rejects a job nobody may be waiting for any more (cancelled, or its pool gone) without an unhandled rejection. */
  drop(err: EdgewatchError): void {
    this.result.catch(() => undefined);
    this.reject(err);
  }
}

/**
 * Jobs wait here until a host that holds their model can take them. A champion job goes to an idle
 * host, else to a pre-emptive host running a shadow job (it starts at the shadow's next kernel), else
 * waits for the oldest-first turn; a shadow job starts only on an idle host once no champion job
 * waits: a champion job never waits behind shadow work, whatever the hosts' layout. A job's pixels
 * are read when it starts, so the caller must leave them unchanged until then (no copy is kept while
 * it waits).
 */
export class JobScheduler {
  /** Jobs running at once beyond which no shadow job starts on a host that cannot be pre-empted (the cores). */
  readonly #cores: number;
  readonly #slots: Slot[] = [];
  readonly #champion: QueuedJob[] = [];
  readonly #shadow: QueuedJob[] = [];
  #paused = 0;
  #closed = false;
  readonly #onChampionLoad: ((load: number, shadowHosts: JobHost[]) => void) | undefined;
  readonly #shadowMayStart: () => boolean;

  /**
   * `cores`: on a host that cannot be pre-empted (the tensorflow backend, a champion that needs
   * executeAsync), once the shadow falls behind (more shadow jobs queued than idle hosts), a shadow job
   * starts only while no champion job waits or runs and fewer jobs than `cores` run: a shadow prediction
   * started there would hold the champion's next one back for its whole length.
   * `onChampionLoad` hears, after every change, the champion jobs running and waiting and the hosts
   * running a shadow job (champion pressure). `shadowMayStart` can hold every shadow start back
   * (e.g. while images are on their way to the champion); call {@link wake} when it changes.
   */
  constructor(cores = Number.POSITIVE_INFINITY, onChampionLoad?: (load: number, shadowHosts: JobHost[]) => void, shadowMayStart: () => boolean = () => true) {
    this.#cores = cores;
    this.#onChampionLoad = onChampionLoad;
    this.#shadowMayStart = shadowMayStart;
  }

  /** Dispatches again (after `shadowMayStart` changed). */
  wake(): void {
    this.#dispatch();
  }

  #reportChampionLoad(): void {
    if (!this.#onChampionLoad) return;
    const shadowHosts = this.#slots.filter((s) => s.running && s.runningModel !== CHAMPION).map((s) => s.host);
    this.#onChampionLoad(this.#championsRunning() + this.#champion.length, shadowHosts);
  }

  /** Adds a host running the pool models in `models` (pool index → host index); crashes remove it. */
  addHost(host: JobHost, models: ReadonlyMap<number, number>): void {
    const slot: Slot = { host, models, running: undefined, runningModel: undefined, urgent: undefined };
    this.#slots.push(slot);
    void host.crashed.then(() => this.#remove(slot));
    this.#dispatch();
  }

  /** Stops giving jobs to `host` (it must be idle, e.g. inside exclusive()); queued jobs no other host can run fail. */
  removeHost(host: JobHost): void {
    const slot = this.#slots.find((s) => s.host === host);
    if (slot) this.#remove(slot);
  }

  /** Queues one prediction of pool model `model`. */
  submit(model: number, input: DecodedInput, original: OriginalSize): ModelJob {
    const job = new QueuedJob(model, input, original, (j) => this.#cancel(j));
    if (this.#closed) job.reject(new EdgewatchError('EW_INFER_FAILED', 'the model pool is closed'));
    else if (!this.#slots.some((s) => s.models.has(model))) job.reject(noHostLeft(model));
    else {
      (model === CHAMPION ? this.#champion : this.#shadow).push(job);
      this.#dispatch();
    }
    return job;
  }

  /** Jobs of pool model `model` queued and not started yet. */
  queued(model: number): number {
    // Derived, not counted: the queues hold at most the pipeline's bounded concurrency of jobs.
    let n = 0;
    for (const job of model === CHAMPION ? this.#champion : this.#shadow) if (job.model === model) n++;
    return n;
  }

  /** Runs `fn` with every host idle and no job dispatched meanwhile (calibration talks to the hosts directly). */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.#paused++;
    try {
      for (let busy = this.#busy(); busy.length > 0; busy = this.#busy()) await Promise.allSettled(busy);
      return await fn();
    } finally {
      this.#paused--;
      this.#dispatch();
    }
  }

  /** Fails every queued job (EW_INFER_FAILED) and refuses new ones; running jobs end with their host. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = new EdgewatchError('EW_INFER_FAILED', 'the model pool was closed before the prediction started');
    for (const job of this.#take(() => true)) job.drop(err);
    this.#reportChampionLoad();
  }

  /** Every queued shadow job can start now on an idle host: the shadow keeps up and runs beside the champion. */
  #shadowKeepsUp(): boolean {
    const idle = this.#slots.filter((s) => idleSlot(s) && [...s.models.keys()].some((m) => m !== CHAMPION)).length;
    return this.#shadow.length <= idle;
  }

  /** Champion jobs running, on either lane. */
  #championsRunning(): number {
    return this.#slots.filter((s) => s.runningModel === CHAMPION || s.urgent).length;
  }

  #busy(): Promise<void>[] {
    return this.#slots.flatMap((s) => [s.running, s.urgent].filter((p): p is Promise<void> => p !== undefined));
  }

  #dispatch(): void {
    this.#startJobs();
    this.#reportChampionLoad();
  }

  #startJobs(): void {
    if (this.#paused > 0 || this.#closed) return;
    // Champion jobs: idle hosts holding no shadow first (those holding one stay free for it), then
    // any idle host, then pre-emptive hosts running a shadow job.
    for (const takes of [(slot: Slot) => idleSlot(slot) && slot.models.size === 1, idleSlot, preemptibleSlot]) {
      for (const slot of this.#slots) {
        if (this.#champion.length === 0) break;
        if (slot.models.has(CHAMPION) && takes(slot)) this.#start(slot, this.#champion.shift() as QueuedJob);
      }
    }
    if (this.#shadow.length === 0 || !this.#shadowMayStart()) return;
    for (const slot of this.#slots) {
      if (!idleSlot(slot)) continue;
      const job = this.#nextShadow(slot);
      if (job) this.#start(slot, job);
    }
  }

  #nextShadow(slot: Slot): QueuedJob | undefined {
    // A champion job still waiting here has no host that could take it: this one holds no champion.
    const holdBack = !slot.host.preemptive && Number.isFinite(this.#cores) && !this.#shadowKeepsUp();
    if (holdBack && (this.#champion.length > 0 || this.#championsRunning() > 0 || this.#busy().length >= this.#cores)) return undefined;
    const index = this.#shadow.findIndex((j) => slot.models.has(j.model));
    if (index < 0) return undefined;
    const [job] = this.#shadow.splice(index, 1) as [QueuedJob];
    return job;
  }

  #start(slot: Slot, job: QueuedJob): void {
    job.startedAt = performance.now();
    const urgent = job.model === CHAMPION && slot.host.preemptive === true;
    if (!urgent) slot.runningModel = job.model;
    const hostModel = slot.models.get(job.model) as number;
    // The slot is handed on before the job settles: whoever awaits the result finds the next job
    // (e.g. this image's shadow, held back while the champion ran) already started.
    const settle = (finish: () => void) => {
      if (urgent) slot.urgent = undefined;
      else {
        slot.running = undefined;
        slot.runningModel = undefined;
      }
      this.#dispatch();
      finish();
    };
    const running = slot.host.predict(job.input, job.original, hostModel).then(
      (result) => settle(() => job.resolve(result)),
      (err: Error) => settle(() => job.reject(err)),
    );
    if (urgent) slot.urgent = running;
    else slot.running = running;
  }

  #cancel(job: QueuedJob): boolean {
    const queue = job.model === CHAMPION ? this.#champion : this.#shadow;
    const index = queue.indexOf(job);
    if (index < 0) return false;
    queue.splice(index, 1);
    job.drop(new EdgewatchError('EW_INFER_CANCELLED', `the prediction of model ${job.model} was cancelled before it started`));
    this.#reportChampionLoad();
    return true;
  }

  #remove(slot: Slot): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;
    this.#slots.splice(index, 1);
    const orphans = this.#take((job) => !this.#slots.some((s) => s.models.has(job.model)));
    for (const job of orphans) job.reject(noHostLeft(job.model));
    this.#dispatch();
  }

  /** Removes and returns the queued jobs matching `match`, oldest first within each queue. */
  #take(match: (job: QueuedJob) => boolean): QueuedJob[] {
    const taken: QueuedJob[] = [];
    for (const queue of [this.#champion, this.#shadow]) {
      const kept = queue.filter((job) => !match(job));
      taken.push(...queue.filter(match));
      queue.splice(0, queue.length, ...kept);
    }
    return taken;
  }
}

/** Runs nothing. */
function idleSlot(slot: Slot): boolean {
  return !slot.running && !slot.urgent;
}

/** A pre-emptive host whose running job, if any, is a shadow one: a champion job can start there now. */
function preemptibleSlot(slot: Slot): boolean {
  return slot.host.preemptive === true && !slot.urgent && slot.runningModel !== CHAMPION;
}

function noHostLeft(model: number): EdgewatchError {
  return new EdgewatchError('EW_WORKER_CRASHED', `no model host is left for model ${model}: every host holding it crashed`, { details: { model } });
}
