/** Worker-thread entry of a ModelWorker: its own TF.js instance and backend, one ModelRunner, requests handled strictly one at a time. */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend.js';
import { ModelRunner } from './model-runner.js';
import { serializeError, type WorkerReply, type WorkerRequest, type WorkerStartData } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread (started by ModelWorker)');
const start = workerData as WorkerStartData;
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

let runner: ModelRunner | undefined;
/** Requests run in arrival order; a prediction never overlaps another (latencies stay honest). */
let queue: Promise<void> = Promise.resolve();

async function handle(request: WorkerRequest): Promise<void> {
  if (request.type === 'crash') {
    process.exit(70);
  } else if (request.type === 'memory') {
    const { numTensors, numBytes } = tf.memory();
    post({ type: 'memory', id: request.id, numTensors, numBytes });
  } else {
    try {
      if (!runner) throw new Error('model not loaded');
      const { prediction, latencySeconds } = await runner.predict({ spec: request.spec, pixels: request.pixels }, request.original);
      post({ type: 'result', id: request.id, prediction, latencySeconds });
    } catch (err) {
      post({ type: 'error', id: request.id, error: serializeError(err, 'EW_INFER_FAILED') });
    }
  }
}

try {
  await selectBackend(start.backend, { warn: (message) => post({ type: 'warning', message }) });
  runner = await ModelRunner.load(start.dir, { topK: start.topK, ...(start.name !== undefined ? { name: start.name } : {}) });
  await runner.warmUp();
  port.on('message', (request: WorkerRequest) => {
    queue = queue.then(() => handle(request));
  });
  post({ type: 'ready', info: runner.info });
} catch (err) {
  post({ type: 'load-error', error: serializeError(err, 'EW_MODEL_LOAD') });
}
