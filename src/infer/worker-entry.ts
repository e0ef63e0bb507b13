/** Worker-thread entry of a ModelWorker: its own TF.js instance and backend, one ModelRunner per model, requests handled strictly one at a time. */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend.js';
import { installKernelGate, type KernelGate } from './kernel-gate.js';
import { ModelRunner } from './model-runner.js';
import { niceCurrentThread } from './thread-priority.js';
import { serializeError, type WorkerReply, type WorkerRequest, type WorkerStartData } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread (started by ModelWorker)');
const start = workerData as WorkerStartData;
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

const runners: ModelRunner[] = [];
/** Set on shadow hosts: waits between kernels while the champion needs the cores. */
let gate: KernelGate | undefined;
/** Requests run in arrival order; a prediction never overlaps another (latencies stay honest). */
let queue: Promise<void> = Promise.resolve();

async function loadRunner(model: { dir: string; name?: string }): Promise<ModelRunner> {
  const runner = await ModelRunner.load(model.dir, { topK: start.topK, ...(model.name !== undefined ? { name: model.name } : {}) });
  try {
    await runner.warmUp();
  } catch (err) {
    runner.dispose();
    throw err;
  }
  return runner;
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
      const { prediction, latencySeconds } = await runner.predict({ spec: request.spec, pixels: request.pixels }, request.original);
      // The model's own time: waits for the champion between kernels are not the shadow's latency.
      const paused = ((gate?.pausedMs() ?? 0) - pausedBefore) / 1000;
      post({ type: 'result', id: request.id, prediction, latencySeconds: Math.max(latencySeconds - paused, 0) });
    } catch (err) {
      post({ type: 'error', id: request.id, error: serializeError(err, 'EW_INFER_FAILED') });
    }
  }
}

try {
  const niceness = niceCurrentThread(start.niceness);
  await selectBackend(start.backend, { warn: (message) => post({ type: 'warning', message }), nativeModule: start.nativeModule });
  for (const model of start.models) runners.push(await loadRunner(model));
  // Installed after loading and warm-up, so that neither waits for the champion.
  if (start.yieldTo) gate = installKernelGate(start.yieldTo);
  port.on('message', (request: WorkerRequest) => {
    queue = queue.then(() => handle(request));
  });
  post({ type: 'ready', infos: runners.map((r) => r.info), niceness });
} catch (err) {
  post({ type: 'load-error', error: serializeError(err, 'EW_MODEL_LOAD') });
}
