/** The bench's reference model runner: a pulled model folder loaded with TF.js's standard loaders (layers or graph) on the wasm backend, nothing else. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { loadLayersModel } from '@tensorflow/tfjs-layers';

/** A loaded model and what its edgewatch.json says about its input. */
export interface ReferenceModel {
  name: string;
  width: number;
  height: number;
  /** Divides the uint8 pixels (nsfwjs models want RGB/255). */
  scale: number;
  /** Runs the model on a ready [1,h,w,3] float tensor and returns its first output on the host. */
  run(input: tf.Tensor): Promise<Float32Array>;
  dispose(): void;
}

/** Selects and initialises the wasm backend in prod mode (once per thread). */
export async function initWasm(): Promise<string> {
  tf.enableProdMode();
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend could not be initialised');
  await tf.ready();
  return tf.getBackend();
}

/** An IOHandler reading model.json and its shards from a folder (TF.js has no file:// loader without tfjs-node). */
function folderHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (groups) => {
        const bytes = Buffer.concat(await Promise.all(groups.flatMap((g) => g.paths.map((p) => readFile(join(dir, p))))));
        return [groups.flatMap((g) => g.weights), bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer];
      });
    },
  };
}

/** Loads a pulled model folder (model.json + edgewatch.json) with tf.loadLayersModel or tf.loadGraphModel. */
export async function loadReferenceModel(dir: string): Promise<ReferenceModel> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { format?: string };
  const manifest = JSON.parse(await readFile(join(dir, 'edgewatch.json'), 'utf8')) as { name: string; input: { width: number; height: number; std: number[] } };
  const scale = manifest.input.std[0] ?? 1;
  if (json.format === 'graph-model') {
    const model = await loadGraphModel(folderHandler(dir));
    return {
      name: manifest.name,
      width: manifest.input.width,
      height: manifest.input.height,
      scale,
      run: async (input) => readAndDispose(model.execute(input) as tf.Tensor | tf.Tensor[]),
      dispose: () => model.dispose(),
    };
  }
  const model = await loadLayersModel(folderHandler(dir));
  return {
    name: manifest.name,
    width: manifest.input.width,
    height: manifest.input.height,
    scale,
    run: async (input) => readAndDispose(model.predict(input) as tf.Tensor | tf.Tensor[]),
    dispose: () => model.dispose(),
  };
}

async function readAndDispose(output: tf.Tensor | tf.Tensor[]): Promise<Float32Array> {
  const outputs = Array.isArray(output) ? output : [output];
  try {
    return (await outputs[0]!.data()) as Float32Array;
  } finally {
    for (const t of outputs) t.dispose();
  }
}

/** A [1,h,w,3] float input from HWC uint8 RGB pixels divided by `scale`. */
export function inputTensor(pixels: Uint8Array, width: number, height: number, scale: number): tf.Tensor {
  return tf.tidy(() => tf.div(tf.tensor4d(pixels, [1, height, width, 3], 'int32'), scale));
}

export { tf };
