/** The naive measurement: the seed's way, one image at a time on one thread — read, decode, champion, shadow, POST, wait for 201. */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import sharp from 'sharp';
import { buildMonitorBody, serializeMonitorBody } from '../src/monitor/index.js';
import type { ClassificationPrediction } from '../src/types.js';
import { openOracleSession, postPrediction, type BenchService } from './service.js';
import { initWasm, inputTensor, loadReferenceModel, type ReferenceModel } from './tf-models.js';
import type { RoundsOptions } from './rounds.js';

/** Options of {@link measureNaive}. */
export interface NaiveOptions extends RoundsOptions {
  files: string[];
  service: BenchService;
}

/** Images/s per round and per-stage times. */
export interface NaiveResult {
  imagesPerSecond: number[];
  championMs: number[];
  shadowMs: number[];
  decodeMs: number[];
  postMs: number[];
  backend: string;
}

function top1(scores: Float32Array): ClassificationPrediction {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  return { detection_classes: [best], detection_texts: null, detection_scores: [scores[best]!] };
}

async function infer(model: ReferenceModel, pixels: Uint8Array): Promise<{ scores: Float32Array; ms: number }> {
  const x = inputTensor(pixels, model.width, model.height, model.scale);
  const t0 = performance.now();
  try {
    const scores = await model.run(x);
    return { scores, ms: performance.now() - t0 };
  } finally {
    x.dispose();
  }
}

/** Runs the naive loop for `rounds` rounds of `perRound` images (files cycled). */
export async function measureNaive(opts: NaiveOptions): Promise<NaiveResult> {
  const backend = await initWasm();
  const champion = await loadReferenceModel(opts.championDir);
  const shadow = await loadReferenceModel(opts.shadowDir);
  const session = await openOracleSession(opts.service);
  const result: NaiveResult = { imagesPerSecond: [], championMs: [], shadowMs: [], decodeMs: [], postMs: [], backend };
  let n = 0;
  const one = async (record: boolean): Promise<void> => {
    const file = opts.files[n++ % opts.files.length]!;
    const bytes = await readFile(file);
    const t0 = performance.now();
    const image = sharp(bytes).rotate();
    const meta = await image.metadata();
    const decode = async (m: ReferenceModel): Promise<Uint8Array> => new Uint8Array(await image.clone().removeAlpha().resize(m.width, m.height, { fit: 'fill' }).raw().toBuffer());
    const championPixels = await decode(champion);
    const shadowPixels = shadow.width === champion.width && shadow.height === champion.height ? championPixels : await decode(shadow);
    const t1 = performance.now();
    const c = await infer(champion, championPixels);
    const s = await infer(shadow, shadowPixels);
    const t2 = performance.now();
    const oriented = (meta.orientation ?? 1) >= 5;
    const body = buildMonitorBody({
      filename: basename(file),
      contentType: 'IMAGE/JPEG',
      width: (oriented ? meta.height : meta.width) ?? 0,
      height: (oriented ? meta.width : meta.height) ?? 0,
      bytes,
      champion: { prediction: top1(c.scores), latencySeconds: c.ms / 1000 },
      shadow: { prediction: top1(s.scores), latencySeconds: s.ms / 1000 },
      source: 'bench-naive',
      tags: [],
      timestamp: Date.now() / 1000,
      edgewatch: { imageId: randomUUID(), champion: { name: champion.name, hash: 'bench' }, shadow: { name: shadow.name, hash: 'bench' }, backend, agentVersion: 'bench-naive', capturedAt: Date.now() / 1000 },
    });
    await postPrediction(session, serializeMonitorBody(body));
    if (record) {
      result.decodeMs.push(t1 - t0);
      result.championMs.push(c.ms);
      result.shadowMs.push(s.ms);
      result.postMs.push(performance.now() - t2);
    }
  };
  for (let i = 0; i < opts.warmup; i++) await one(false);
  for (let r = 0; r < opts.rounds; r++) {
    const started = performance.now();
    for (let i = 0; i < opts.perRound; i++) await one(true);
    result.imagesPerSecond.push(opts.perRound / ((performance.now() - started) / 1000));
  }
  champion.dispose();
  shadow.dispose();
  return result;
}
