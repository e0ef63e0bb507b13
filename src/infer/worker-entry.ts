/** Worker-thread entry of a ModelWorker: its own TF.js instance and backend, one ModelRunner per model, requests handled strictly one at a time. */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend.js';
import { installKernelGate, type KernelGate } from './kernel-gate.js';
import { ModelRunner } from './model-runner.js';
import { serializeError, type HostModel, type UrgentRequest, type WorkerReply, type WorkerRequest, type WorkerStartData } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread (started by ModelWorker)');
const start = workerData as WorkerStartData;
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

const runners: ModelRunner[] = [];
/** Runs urgent champion requests between kernels; its pauses are not the interrupted prediction's latency. */
let gate: KernelGate | undefined;
/** Requests run in arrival order; a prediction never overlaps another (latencies stay honest). */
let queue: Promise<void> = Promise.resolve();

async function loadRunner(model: HostModel): Promise<ModelRunner> {
  const runner = await ModelRunner.load(model.dir, { topK: start.topK, collectGarbage, manifest: model.manifest, ...(model.name !== undefined ? { name: model.name } : {}) });
  try {
    await runner.warmUp();
  } catch (err) {
    runner.dispose();
    throw err;
  }
  return runner;
}

/**
 * A full garbage collection, where loading a model has just left garbage behind (see
 * RunnerOptions.collectGarbage): a host allocates so little JavaScript afterwards that V8 would keep
 * it for a long time. `gc` is exposed the way jest's leak detector does it (a worker thread cannot
 * take --expose-gc).
 */
let gc: (() => void) | undefined;
function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/** Bytes of the wasm backend's linear memory in this thread (0 on another backend). */
function wasmMemoryBytes(): number {
  if (tf.getBackend() !== 'wasm') return 0;
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return wasm?.HEAPU8?.buffer.byteLength ?? 0;
}

async function handle(request: WorkerRequest): Promise<void> {
  if (request.type === 'crash') {
    process.exit(70);
  } else if (request.type === 'memory') {
    const { numTensors, numBytes } = tf.memory();
    const heap = getHeapStatistics();
    const usage = process.memoryUsage();
    post({ type: 'memory', id: request.id, numTensors, numBytes, heapUsed: heap.used_heap_size, heapTotal: heap.total_heap_size, external: usage.external, wasmBytes: wasmMemoryBytes() });
  } else if (request.type === 'load') {
    try {
      const runner = await loadRunner(request.model);
      runners.push(runner);
      post({ type: 'loaded', id: request.id, info: runner.info });
    } catch (err) {
      post({ type: 'error', id: request.id, error: serializeError(err, 'EW_MODEL_LOAD') });
    }
  } else {
    try {
      const runner = runners[request.model];
      if (!runner) throw new Error(`model ${request.model} not loaded`);
      const pausedBefore = gate?.pausedMs() ?? 0;
      gate?.busy(true);
      const { prediction, latencySeconds } = await runner.predict({ spec: request.spec, pixels: request.pixels }, request.original).finally(() => gate?.busy(false));
      // The model's own time: urgent champion predictions run meanwhile are not this one's latency.
      const paused = ((gate?.pausedMs() ?? 0) - pausedBefore) / 1000;
      post({ type: 'result', id: request.id, prediction, latencySeconds: Math.max(latencySeconds - paused, 0) });
    } catch (err) {
      post({ type: 'error', id: request.id, error: serializeError(err, 'EW_INFER_FAILED') });
    }
  }
}

/** One urgent request (the champion), run synchronously: between two kernels of another prediction, or from the event loop. */
function handleUrgent(request: UrgentRequest): void {
  if (request.type === 'crash') process.exit(70);
  try {
    const result = runners[request.model]?.predictSync({ spec: request.spec, pixels: request.pixels }, request.original);
    // A graph that turned out to need executeAsync on this input: it waits its turn on the queue.
    if (!result) queue = queue.then(() => handle(request));
    else post({ type: 'result', id: request.id, prediction: result.prediction, latencySeconds: result.latencySeconds });
  } catch (err) {
    post({ type: 'error', id: request.id, error: serializeError(err, 'EW_INFER_FAILED') });
  }
}

try {
  await selectBackend(start.backend, { warn: (message) => post({ type: 'warning', message }), nativeModule: start.nativeModule });
  for (const model of start.models) runners.push(await loadRunner(model));
  // The champion can interrupt another prediction where it runs synchronously, on the backends
  // whose kernels never call back into the engine (checked for wasm and cpu; tfjs-node is not).
  const preemptive = (tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu') && runners[0]!.runsSync;
  // Installed after loading and warm-up, which nothing interrupts.
  if (preemptive) gate = installKernelGate(start.urgent, (request) => handleUrgent(request as UrgentRequest));
  else start.urgent.port.close();
  port.on('message', (request: WorkerRequest) => {
    queue = queue.then(() => handle(request));
  });
  post({ type: 'ready', infos: runners.map((r) => r.info), preemptive });
} catch (err) {
  post({ type: 'load-error', error: serializeError(err, 'EW_MODEL_LOAD') });
}
