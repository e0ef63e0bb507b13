/** A second floor: edgewatch's own runner (`ModelWorker`, one worker thread per model, the normal loader) on pre-decoded pixels, two images in flight. */
import sharp from 'sharp';
import { ModelWorker } from '../dist/infer/index.js';
import type { DecodedInput } from '../dist/types.js';
import type { RoundsOptions } from './rounds.js';

/** Options of {@link measureFloorModelWorker}. */
export interface FloorModelWorkerOptions extends RoundsOptions {
  images: Buffer[];
}

/** Images/s per round and the models' own latencies. */
export interface FloorModelWorkerResult {
  imagesPerSecond: number[];
  championMs: number[];
  shadowMs: number[];
  backend: string;
}

/**
 * Champion and shadow each in their own ModelWorker; image i+1's champion overlaps image i's
 * shadow (each worker always has one request queued), which is the best this layout can do.
 */
export async function measureFloorModelWorker(opts: FloorModelWorkerOptions): Promise<FloorModelWorkerResult> {
  const warn = (m: string): void => void process.stderr.write(`  ${m}\n`);
  const [champion, shadow] = await Promise.all([ModelWorker.start(opts.championDir, { backend: 'wasm', warn }), ModelWorker.start(opts.shadowDir, { backend: 'wasm', warn })]);
  try {
    const decode = async (spec: DecodedInput['spec']): Promise<DecodedInput[]> =>
      Promise.all(opts.images.map(async (img) => ({ spec, pixels: new Uint8Array(await sharp(img).rotate().removeAlpha().resize(spec.width, spec.height, { fit: spec.fit }).raw().toBuffer()) })));
    const championInputs = await decode(champion.info.input);
    const shadowInputs = await decode(shadow.info.input);
    const original = { width: 1920, height: 1080 };
    const result: FloorModelWorkerResult = { imagesPerSecond: [], championMs: [], shadowMs: [], backend: champion.info.backend };
    const runMany = async (count: number, record: boolean): Promise<void> => {
      const c: Promise<unknown>[] = [];
      const s: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        const k = i % championInputs.length;
        c.push(champion.predict(championInputs[k]!, original).then((p) => record && result.championMs.push(p.latencySeconds * 1000)));
        s.push(shadow.predict(shadowInputs[k]!, original).then((p) => record && result.shadowMs.push(p.latencySeconds * 1000)));
      }
      await Promise.all([...c, ...s]);
    };
    await runMany(opts.warmup, false);
    for (let r = 0; r < opts.rounds; r++) {
      const started = performance.now();
      await runMany(opts.perRound, true);
      result.imagesPerSecond.push(opts.perRound / ((performance.now() - started) / 1000));
    }
    return result;
  } finally {
    await Promise.all([champion.close(), shadow.close()]);
  }
}
