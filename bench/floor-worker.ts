/** Worker thread of the floor measurement: champion then shadow on pre-built input tensors, images taken from a shared counter. */
import { parentPort, workerData } from 'node:worker_threads';
import { initWasm, inputTensor, loadReferenceModel, tf } from './tf-models.js';

/** What the floor hands each worker. */
export interface FloorWorkerData {
  championDir: string;
  shadowDir: string;
  /** Pre-decoded HWC uint8 RGB pixels per image, keyed by `<w>x<h>`. */
  pixels: Record<string, Uint8Array[]>;
  counter: SharedArrayBuffer;
  warmup: number;
}

const data = workerData as FloorWorkerData;
const port = parentPort!;

const backend = await initWasm();
const champion = await loadReferenceModel(data.championDir);
const shadow = await loadReferenceModel(data.shadowDir);
// One float input tensor per image and model size, built before any timing: the floor excludes decode and upload.
const inputsFor = (m: typeof champion): tf.Tensor[] => (data.pixels[`${m.width}x${m.height}`] ?? []).map((p) => inputTensor(p, m.width, m.height, m.scale));
const championInputs = inputsFor(champion);
const shadowInputs = champion.width === shadow.width && champion.height === shadow.height && champion.scale === shadow.scale ? championInputs : inputsFor(shadow);
for (let i = 0; i < data.warmup; i++) {
  await champion.run(championInputs[i % championInputs.length]!);
  await shadow.run(shadowInputs[i % shadowInputs.length]!);
}
const counter = new Int32Array(data.counter);
port.postMessage({ type: 'ready', backend });

port.on('message', async (msg: { type: 'round'; total: number } | { type: 'close' }) => {
  if (msg.type === 'close') {
    const tensors = tf.memory().numTensors;
    champion.dispose();
    shadow.dispose();
    port.postMessage({ type: 'closed', tensors });
    port.close();
    return;
  }
  const championMs: number[] = [];
  const shadowMs: number[] = [];
  for (;;) {
    const i = Atomics.add(counter, 0, 1);
    if (i >= msg.total) break;
    const t0 = performance.now();
    await champion.run(championInputs[i % championInputs.length]!);
    const t1 = performance.now();
    await shadow.run(shadowInputs[i % shadowInputs.length]!);
    championMs.push(t1 - t0);
    shadowMs.push(performance.now() - t1);
  }
  port.postMessage({ type: 'done', championMs, shadowMs });
});
