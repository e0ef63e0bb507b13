/** Test helpers for the infer stage: temp model folders, tiny saved models, shape images as decoded inputs. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { makeShapeImage, type ShapeLabel } from '../../src/demo/shapes.js';
import type { DecodedInput, InputSpec } from '../../src/types.js';

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEMO_CHAMPION = join(ROOT, 'models', 'demo-champion');
export const DEMO_SHADOW = join(ROOT, 'models', 'demo-shadow');

/** A fresh temp folder removed after the test. */
export async function tempDir(t: TestContext, prefix = 'edgewatch-infer-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Saves a layers model as model.json + weights.bin (what tfjs's file saver would write). Needs a backend. */
export async function saveLayersModel(model: tfl.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const json = { format: 'layers-model', modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] };
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(weights));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** A tiny image classifier: [size, size, channels] → GAP → dense(classes, softmax). */
export function tinyClassifier(size: number, classes: number, channels = 3): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({ inputShape: [size, size, channels], filters: 4, kernelSize: 3, activation: 'relu' }));
  model.add(tfl.layers.globalAveragePooling2d({}));
  model.add(tfl.layers.dense({ units: classes, activation: 'softmax' }));
  return model;
}

/** Writes a tiny classifier folder with an edgewatch.json; returns the folder. */
export async function writeTinyModelFolder(dir: string, manifest: Record<string, unknown> | undefined, size = 8, classes = 3): Promise<string> {
  const model = tinyClassifier(size, classes);
  await saveLayersModel(model, dir);
  model.dispose();
  if (manifest) await writeFile(join(dir, 'edgewatch.json'), JSON.stringify(manifest));
  return dir;
}

/**
 * Writes a deliberately slow classifier folder (a few wide 3×3 convolutions at full resolution on
 * a 224 input: hundreds of ms per prediction on wasm, against about 1 ms for the demo models), so
 * that a shadow job is still running while champion jobs come and go. Returns the folder.
 */
export async function writeSlowModelFolder(dir: string, labels = ['a', 'b', 'c'], size = 224, convLayers = 3, filters = 64): Promise<string> {
  // Building the layers needs a backend in this thread; the cpu one is enough to initialise weights.
  if (!tf.engine().backendName) await tf.setBackend('cpu');
  const model = tfl.sequential();
  for (let i = 0; i < convLayers; i++) {
    model.add(tfl.layers.conv2d({ ...(i === 0 ? { inputShape: [size, size, 3] } : {}), filters, kernelSize: 3, padding: 'same', activation: 'relu' }));
  }
  model.add(tfl.layers.globalAveragePooling2d({}));
  model.add(tfl.layers.dense({ units: labels.length, activation: 'softmax' }));
  await saveLayersModel(model, dir);
  model.dispose();
  await writeFile(join(dir, 'edgewatch.json'), JSON.stringify({ task: 'CLASSIFICATION', labels, name: 'slow-shadow' }));
  return dir;
}

/** The pixels a model with `spec` gets for a generated shape image (JPEG → sharp resize, as the read stage does). */
export async function shapeInput(label: ShapeLabel, seed: number, spec: InputSpec, sizePx = 256): Promise<{ input: DecodedInput; original: { width: number; height: number } }> {
  const jpeg = await makeShapeImage(label, seed, sizePx);
  const pixels = await sharp(jpeg)
    .resize(spec.width, spec.height, { fit: spec.fit })
    .removeAlpha()
    .toColourspace(spec.channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer();
  return { input: { spec, pixels: new Uint8Array(pixels) }, original: { width: sizePx, height: sizePx } };
}

/**
 * Writes a tiny hand-built graph model (format graph-model): input [-1, size, size, 3], output
 * the constant `detections` [1, N, 6] (plus 0 × the input mean, so the input is really used).
 */
export async function writeDetectionGraphModel(dir: string, size: number, detections: number[][]): Promise<void> {
  const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
  const constNode = (name: string, dtype: 'DT_FLOAT' | 'DT_INT32', shape: number[]) => ({
    name,
    op: 'Const',
    attr: { value: { tensor: { dtype, tensorShape: dims(shape) } }, dtype: { type: dtype } },
  });
  const f = { T: { type: 'DT_FLOAT' } };
  const json = {
    format: 'graph-model',
    generatedBy: 'edgewatch test',
    convertedBy: 'hand-written',
    modelTopology: {
      node: [
        { name: 'image', op: 'Placeholder', attr: { shape: { shape: dims([-1, size, size, 3]) }, dtype: { type: 'DT_FLOAT' } } },
        constNode('axes', 'DT_INT32', [3]),
        constNode('zero', 'DT_FLOAT', [1]),
        constNode('dets', 'DT_FLOAT', [1, detections.length, 6]),
        { name: 'mean', op: 'Mean', input: ['image', 'axes'], attr: { keep_dims: { b: false }, ...f, Tidx: { type: 'DT_INT32' } } },
        { name: 'scaled', op: 'Mul', input: ['mean', 'zero'], attr: f },
        { name: 'sum', op: 'AddV2', input: ['dets', 'scaled'], attr: f },
        { name: 'Identity', op: 'Identity', input: ['sum'], attr: f },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'axes', shape: [3], dtype: 'int32' },
          { name: 'zero', shape: [1], dtype: 'float32' },
          { name: 'dets', shape: [1, detections.length, 6], dtype: 'float32' },
        ],
      },
    ],
  };
  const axes = new Int32Array([1, 2, 3]);
  const zero = new Float32Array([0]);
  const dets = new Float32Array(detections.flat());
  const shard = Buffer.concat([Buffer.from(axes.buffer), Buffer.from(zero.buffer), Buffer.from(dets.buffer)]);
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  await writeFile(join(dir, 'group1-shard1of1.bin'), shard);
}
