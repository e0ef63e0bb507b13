/** The bench's reference model runner: a pulled model folder loaded with TF.js's standard loaders (layers or graph) on the wasm backend, nothing else. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { loadModelFolder } from '../src/infer/load-model.js';

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

export async function loadReferenceModel(dir: string): Promise<ReferenceModel> {
  const loaded = await loadModelFolder(dir);
  const model = loaded.model;
  const execute = (input: tf.Tensor) => (loaded.format === 'graph' ? (model as GraphModel).execute(input) : (model as LayersModel).predict(input)) as tf.Tensor | tf.Tensor[];
  return {
    name: loaded.name,
    width: loaded.input.width,
    height: loaded.input.height,
    scale: loaded.manifest.input.std[0] ?? 1,
    run: async (input) => readAndDispose(execute(input)),
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
