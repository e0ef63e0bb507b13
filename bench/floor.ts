/** The floor: champion + shadow inference alone on pre-decoded input tensors, one worker thread per core, TF.js's standard loaders. */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import type { FloorWorkerData } from './floor-worker.js';
import type { RoundsOptions } from './rounds.js';

/** Options of {@link measureFloor}. */
export interface FloorOptions extends RoundsOptions {
  /** Model input sizes to pre-decode (`{width,height}` of each model). */
  sizes: Array<{ width: number; height: number }>;
  images: Buffer[];
  workers: number;
}

/** Images/s per round, per-inference latencies and the backend used. */
export interface FloorResult {
  imagesPerSecond: number[];
  championMs: number[];
  shadowMs: number[];
  backend: string;
  workers: number;
  tensorsAtEnd: number[];
}

/** Decodes each image once per model size (outside any timing), the way the read stage would. */
async function predecode(images: Buffer[], sizes: FloorOptions['sizes']): Promise<Record<string, Uint8Array[]>> {
  const out: Record<string, Uint8Array[]> = {};
  for (const { width, height } of sizes) {
    const key = `${width}x${height}`;
    if (out[key]) continue;
    out[key] = await Promise.all(images.map(async (img) => new Uint8Array(await sharp(img).rotate().removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer())));
  }
  return out;
}

/** Runs the floor measurement: `rounds` rounds of `perRound` images spread over `workers` threads. */
export async function measureFloor(opts: FloorOptions): Promise<FloorResult> {
  const pixels = await predecode(opts.images, opts.sizes);
  const counterBuffer = new SharedArrayBuffer(4);
  const counter = new Int32Array(counterBuffer);
  const data: FloorWorkerData = { championDir: opts.championDir, shadowDir: opts.shadowDir, pixels, counter: counterBuffer, warmup: opts.warmup };
  const workers = Array.from({ length: opts.workers }, () => startTsWorker(new URL('./floor-worker.ts', import.meta.url), data));
  try {
    const ready = await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
    const result: FloorResult = { imagesPerSecond: [], championMs: [], shadowMs: [], backend: String(ready[0]?.backend), workers: workers.length, tensorsAtEnd: [] };
    for (let r = 0; r < opts.rounds; r++) {
      Atomics.store(counter, 0, 0);
      const started = performance.now();
      const done = workers.map((w) => nextMessage(w, 'done'));
      for (const w of workers) w.postMessage({ type: 'round', total: opts.perRound });
      const reports = await Promise.all(done);
      result.imagesPerSecond.push(opts.perRound / ((performance.now() - started) / 1000));
      for (const rep of reports) {
        result.championMs.push(...(rep.championMs as number[]));
        result.shadowMs.push(...(rep.shadowMs as number[]));
      }
    }
    const closed = workers.map((w) => nextMessage(w, 'closed'));
    for (const w of workers) w.postMessage({ type: 'close' });
    result.tensorsAtEnd = (await Promise.all(closed)).map((m) => m.tensors as number);
    return result;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Starts a worker thread on a TypeScript module: Node 20 does not apply `--import tsx` to a
 * worker's entry module, so a tiny ESM entry registers tsx in the worker first.
 */
export function startTsWorker(url: URL, workerData: unknown): Worker {
  const entry = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(url.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(entry)}`), { workerData });
}

/** The next message of `type` from a worker; rejects if the worker fails or exits first. */
async function nextMessage(worker: Worker, type: string): Promise<Record<string, unknown>> {
  const ac = new AbortController();
  try {
    const failed = Promise.race([once(worker, 'error', { signal: ac.signal }), once(worker, 'exit', { signal: ac.signal })]).then((args) => {
      throw args[0] instanceof Error ? args[0] : new Error(`floor worker exited with code ${String(args[0])}`);
    });
    const message = (async () => {
      for (;;) {
        const [msg] = (await once(worker, 'message', { signal: ac.signal })) as [Record<string, unknown>];
        if (msg.type === type) return msg;
      }
    })();
    return await Promise.race([message, failed]);
  } finally {
    ac.abort();
  }
}
