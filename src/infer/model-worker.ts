/** Models running in a worker thread with its own TF.js instance: one model (ModelWorker.start) or several (startMany, for a ModelPool). */
import { resolve } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { workerScript } from '../worker-launch.js';
import { EdgewatchError } from '../errors.js';
import type { DecodedInput } from '../types.js';
import type { BackendPreference } from './backend.js';
import { laneWords, UrgentSender } from './kernel-gate.js';
import { readManifest } from './manifest.js';
import { TFJS_NODE } from './native-module.js';
import type { ModelInfo, OriginalSize, TimedPrediction } from './model-runner.js';
import { deserializeError, type HostModel, type WorkerMemoryReport, type WorkerReply, type WorkerRequest, type WorkerStartData } from './worker-protocol.js';

export interface ModelWorkerOptions {
  /** Backend the worker initialises (default `auto`). */
  backend?: BackendPreference;
  /** Classes reported per classification prediction (default 1). */
  topK?: number;
  /** Overrides the manifest / folder name. */
  name?: string;
  /** Receives the worker's warnings (e.g. the cpu fallback). Default: stderr. */
  warn?: (message: string) => void;
  /** Module the `tensorflow` backend imports (default `@tensorflow/tfjs-node`); tests pass a stand-in. */
  nativeModule?: string;
}

/**
 * Young-generation cap of a host's V8 heap. A host allocates little JavaScript per prediction (the
 * tensors live in the backend), and V8's default semi-spaces reserved about 28 MB more per thread
 * (heap 55 → 27 MB reserved, measured on a MobileNetV2 host).
 */
const YOUNG_GENERATION_MB = 4;

/** A model folder with its manifest read and checked here: the host never loads the schema library (see loadModelFolder). */
async function hostModel(model: { dir: string; name?: string }): Promise<HostModel> {
  const dir = resolve(model.dir);
  return { dir, ...(model.name !== undefined ? { name: model.name } : {}), manifest: await readManifest(dir) };
}

/** Memory of a worker thread: TF.js tensors, V8 heap, wasm linear memory. */
export type WorkerMemory = WorkerMemoryReport;

interface Pending {
  resolve: (value: never) => void;
  reject: (err: Error) => void;
}

/**
 * How to start the worker entry next to this file (see worker-launch.ts). From dist it is started
 * with the parent's loader flags only (`--test` and the like are invalid in a worker), tsx's left out.
 */
function workerLaunch(): { script: string | URL; eval: boolean; execArgv: string[] } {
  const launch = workerScript(import.meta.url, 'worker-entry');
  if (launch.eval) return { ...launch, execArgv: [] };
  const execArgv: string[] = [];
  const args = process.execArgv;
  // tsx is a TypeScript loader and this entry is JavaScript: in a worker it only costs its own
  // loader thread (about 50 MB per host, e.g. a TypeScript benchmark driving the built agent).
  const wanted = (value: string) => !/^tsx(\/|$)/.test(value);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--enable-source-maps') execArgv.push(arg);
    else if (/^--(import|require|loader|experimental-loader|conditions)=/.test(arg)) {
      if (wanted(arg.slice(arg.indexOf('=') + 1))) execArgv.push(arg);
    } else if (/^(--import|--require|-r|--loader|--experimental-loader|--conditions|-C)$/.test(arg) && args[i + 1] !== undefined) {
      const value = args[++i]!;
      if (wanted(value)) execArgv.push(arg, value);
    }
  }
  return { ...launch, execArgv };
}

/** Same API as ModelRunner, asynchronous, in a worker thread. Requests are answered in order, one at a time. */
export class ModelWorker {
  /** The first (or only) model. */
  readonly info: ModelInfo;
  readonly #infos: ModelInfo[];
  /**
   * The champion (model 0) runs on the host's urgent lane: at the next kernel of a shadow prediction
   * in progress, which pauses meanwhile (wasm and cpu, a champion that runs synchronously).
   */
  readonly preemptive: boolean;
  readonly #urgent: UrgentSender;
  /** Settles with the error when the worker crashes (never for close()). */
  readonly crashed: Promise<EdgewatchError>;
  #onCrash!: (err: EdgewatchError) => void;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #failure: EdgewatchError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(worker: Worker, infos: ModelInfo[], preemptive: boolean, urgent: UrgentSender) {
    this.#worker = worker;
    this.#infos = infos;
    this.preemptive = preemptive;
    this.#urgent = urgent;
    this.crashed = new Promise((resolve) => (this.#onCrash = resolve));
    const info = infos[0] as ModelInfo;
    this.info = info;
    worker.on('message', (reply: WorkerReply) => this.#onReply(reply));
    worker.on('error', (err) => this.#fail(new EdgewatchError('EW_WORKER_CRASHED', `model worker ${info.name} crashed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      if (!this.#closing) this.#fail(new EdgewatchError('EW_WORKER_CRASHED', `model worker ${info.name} exited unexpectedly (code ${code})`, { details: { exitCode: code } }));
    });
    worker.unref();
  }

  /** Starts a worker, which selects its backend, loads and warms up the model. Load errors keep their code and message. */
  static start(dir: string, options: ModelWorkerOptions = {}): Promise<ModelWorker> {
    return ModelWorker.startMany([{ dir, ...(options.name !== undefined ? { name: options.name } : {}) }], options);
  }

  /** Starts a worker holding several models (requests name the model by index); `options.name` is ignored. */
  static async startMany(models: { dir: string; name?: string }[], options: ModelWorkerOptions = {}): Promise<ModelWorker> {
    const warn = options.warn ?? ((message: string) => process.stderr.write(`edgewatch: WARNING: ${message}\n`));
    const dir = models.map((m) => m.dir).join(', ');
    const lane = new MessageChannel();
    const data: WorkerStartData = {
      models: await Promise.all(models.map(hostModel)),
      backend: options.backend ?? 'auto',
      topK: options.topK ?? 1,
      nativeModule: options.nativeModule ?? TFJS_NODE,
      urgent: { port: lane.port2, words: laneWords() },
    };
    const urgent = new UrgentSender({ port: lane.port1, words: data.urgent.words });
    const launch = workerLaunch();
    const worker = new Worker(launch.script, {
      eval: launch.eval,
      workerData: data,
      transferList: [lane.port2],
      execArgv: launch.execArgv,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    let onWarning: ((reply: WorkerReply) => void) | undefined;
    try {
      const ready = await new Promise<{ infos: ModelInfo[]; preemptive: boolean }>((resolve, reject) => {
        onWarning = (reply) => {
          if (reply.type === 'warning') warn(reply.message);
          else if (reply.type === 'ready') resolve(reply);
          else if (reply.type === 'load-error') reject(deserializeError(reply.error));
        };
        worker.on('message', onWarning);
        worker.once('error', (err) => reject(new EdgewatchError('EW_WORKER_CRASHED', `model worker for ${dir} crashed while loading: ${err.message}`, { cause: err })));
        worker.once('exit', (code) => reject(new EdgewatchError('EW_WORKER_CRASHED', `model worker for ${dir} exited while loading (code ${code})`)));
      });
      worker.off('message', onWarning!);
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'warning') warn(reply.message);
      });
      worker.removeAllListeners('error');
      worker.removeAllListeners('exit');
      return new ModelWorker(worker, ready.infos, ready.preemptive, urgent);
    } catch (err) {
      urgent.close();
      await worker.terminate();
      throw err;
    }
  }

  /** Every model of this worker, by request index (grows with load()). */
  get infos(): readonly ModelInfo[] {
    return this.#infos;
  }

  /** The backend the worker's TF.js runs on. */
  get backend(): string {
    return this.info.backend;
  }

  /**
   * Predicts one image in the worker. The pixels are copied once into a fresh buffer that is
   * transferred (not cloned), so the caller's buffer stays usable (e.g. for the shadow).
   */
  predict(input: DecodedInput, original: OriginalSize, model = 0): Promise<TimedPrediction> {
    const pixels = input.pixels.slice();
    return this.#request<TimedPrediction>(
      (id) => ({ type: 'predict', id, model, spec: { ...input.spec }, pixels, original: { width: original.width, height: original.height } }),
      [pixels.buffer as ArrayBuffer],
      model === 0 && this.preemptive,
    );
  }

  /** Loads one more model into the running worker (same backend, warmed up); its request index is the next one. */
  async load(model: { dir: string; name?: string }): Promise<ModelInfo> {
    const hosted = await hostModel(model);
    const info = await this.#request<ModelInfo>((id) => ({ type: 'load', id, model: hosted }), []);
    this.#infos.push(info);
    return info;
  }

  /** Requests sent and not answered yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Tensor count and bytes in the worker's TF.js (a flat count means no leak), its V8 heap and wasm memory. */
  memory(): Promise<WorkerMemory> {
    return this.#request<WorkerMemory>((id) => ({ type: 'memory', id }), []);
  }

  /** Terminates the worker; pending requests fail with EW_INFER_FAILED. Idempotent: returns the same promise. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#rejectAll(new EdgewatchError('EW_INFER_FAILED', `model worker ${this.info.name} was closed`));
      this.#urgent.close();
      await this.#worker.terminate();
    })();
    return this.#closing;
  }

  /** Holds (`true`) or releases a running shadow prediction between two kernels (pre-emptive hosts; champion requests still run). */
  pressure(held: boolean): void {
    this.#urgent.pressure(held);
  }

  /** Champion predictions that started inside a running shadow prediction (between two of its kernels). */
  get interrupts(): number {
    return this.#urgent.interrupts;
  }

  /** Test hook: resolves once a queued prediction has waited under pressure more than `count` times. */
  waitedBeyondForTest(count: number): Promise<void> {
    return this.#urgent.waitedBeyond(count);
  }

  /** Test hook: resolves once the host runs a prediction from its ordinary queue (a shadow one, on a pre-emptive host). */
  busyForTest(): Promise<void> {
    return this.#urgent.busy();
  }

  /** Test hook: makes the worker thread exit as if it had crashed. */
  crashForTest(): void {
    // On the lane the champion's requests take, so that one sent after it cannot run before it.
    if (this.preemptive) this.#urgent.post({ type: 'crash' } satisfies WorkerRequest, []);
    else this.#worker.postMessage({ type: 'crash' } satisfies WorkerRequest);
  }

  /** Sends one request on the host's queue, or on its urgent lane (`urgent`); the reply comes back on the worker's port either way. */
  #request<T>(build: (id: number) => WorkerRequest, transfer: ArrayBuffer[], urgent = false): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(new EdgewatchError('EW_INFER_FAILED', `model worker ${this.info.name} is closed`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: never) => void, reject });
      this.#worker.ref();
      if (urgent) this.#urgent.post(build(id), transfer);
      else this.#worker.postMessage(build(id), transfer);
    });
  }

  #onReply(reply: WorkerReply): void {
    if (reply.type !== 'result' && reply.type !== 'memory' && reply.type !== 'loaded' && reply.type !== 'error') return;
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.type === 'error') pending.reject(deserializeError(reply.error));
    else if (reply.type === 'result') pending.resolve({ prediction: reply.prediction, latencySeconds: reply.latencySeconds } as never);
    else if (reply.type === 'loaded') pending.resolve(reply.info as never);
    else {
      const { type: _type, id: _id, ...memory } = reply;
      pending.resolve(memory as never);
    }
  }

  #fail(err: EdgewatchError): void {
    this.#failure ??= err;
    this.#onCrash(this.#failure);
    this.#rejectAll(this.#failure);
  }

  #rejectAll(err: EdgewatchError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#worker.unref();
    for (const p of pending) p.reject(err);
  }
}
