/**
 * Trains the two demo classifiers (champion: small CNN, shadow: deeper CNN) on generated shape
 * images and saves them as TF.js layers models with their edgewatch.json manifests.
 *
 * Run: `npm run train-demo` (= `node --import tsx scripts/train-demo.ts`), optionally with
 * `--quick` for a smoke run that writes to a temp folder instead of models/, and/or
 * `--only demo-champion` to retrain one model.
 *
 * Why not `model.fit`: the wasm backend has no Conv2DBackpropFilter kernel and the cpu backend
 * trains conv nets about 20× slower. Here each 3×3 'same' convolution is trained in its im2col
 * form (pad, nine slices, concat, matMul), whose gradients all exist on wasm; the trained
 * weights are then reshaped into ordinary Conv2D layers, checked to give the same outputs, and
 * saved. The saved models are plain layers models: nothing custom at inference time.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { SHAPE_LABELS } from '../src/demo/shapes.js';
import { makeShapeDataset, type ShapeDataset } from './demo-data.js';

const IMAGE_SIZE = 32;
const CLASS_COUNT = SHAPE_LABELS.length;

/** One architecture: 3×3 'same' conv blocks (each followed by 2×2 max-pooling), then dense layers. */
interface Architecture {
  name: string;
  description: string;
  convFilters: number[];
  hiddenUnits: number[];
  /** Softmax inside the model, or raw logits (the manifest then says `logits`). */
  outputActivation: 'softmax' | 'logits';
  mean: number;
  std: number;
  epochs: number;
  learningRate: number;
}

const ARCHITECTURES: Architecture[] = [
  {
    name: 'demo-champion',
    description: 'Demo champion: small CNN (3 conv blocks, 8/16/16 filters) on 32×32 RGB/255, trained on generated shapes.',
    convFilters: [8, 16, 16],
    hiddenUnits: [],
    outputActivation: 'softmax',
    mean: 0,
    std: 255,
    epochs: 10,
    learningRate: 0.003,
  },
  {
    name: 'demo-shadow',
    description: 'Demo shadow: deeper CNN (3 conv blocks, 16/32/32 filters, dense 64) on 32×32 [-1,1], logits output, trained on generated shapes.',
    convFilters: [16, 32, 32],
    hiddenUnits: [64],
    outputActivation: 'logits',
    mean: 127.5,
    std: 127.5,
    epochs: 6,
    learningRate: 0.002,
  },
];

interface Params {
  convs: Array<{ kernel: tf.Variable; bias: tf.Variable }>;
  denses: Array<{ kernel: tf.Variable; bias: tf.Variable }>;
}

function initParams(arch: Architecture, seed: number): Params {
  let channels = 3;
  let s = seed;
  const convs = arch.convFilters.map((filters) => {
    const fanIn = 9 * channels;
    const kernel = tf.variable(tf.randomNormal([fanIn, filters], 0, Math.sqrt(2 / fanIn), 'float32', s++));
    channels = filters;
    return { kernel, bias: tf.variable(tf.zeros([filters])) };
  });
  const side = IMAGE_SIZE / 2 ** arch.convFilters.length;
  let units = side * side * channels;
  const denses = [...arch.hiddenUnits, CLASS_COUNT].map((out) => {
    const kernel = tf.variable(tf.randomNormal([units, out], 0, Math.sqrt(2 / units), 'float32', s++));
    units = out;
    return { kernel, bias: tf.variable(tf.zeros([out])) };
  });
  return { convs, denses };
}

/** A 3×3 stride-1 'same' convolution + ReLU written as im2col + matMul (trainable on wasm). */
function convIm2col(x: tf.Tensor4D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const taps: tf.Tensor4D[] = [];
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) taps.push(tf.slice(padded, [0, dy, dx, 0], [n, h, w, c]));
  const patches = tf.reshape(tf.concat(taps, 3), [n * h * w, 9 * c]);
  return tf.reshape(tf.relu(tf.add(tf.matMul(patches, kernel), bias)), [n, h, w, kernel.shape[1]]);
}

/** Forward pass in training form; returns logits. */
function forward(params: Params, x: tf.Tensor4D): tf.Tensor2D {
  let h = x;
  for (const { kernel, bias } of params.convs) h = tf.maxPool(convIm2col(h, kernel as tf.Tensor2D, bias as tf.Tensor1D), 2, 2, 'valid');
  let f = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  params.denses.forEach(({ kernel, bias }, i) => {
    f = tf.add(tf.matMul(f, kernel), bias);
    if (i < params.denses.length - 1) f = tf.relu(f);
  });
  return f;
}

function batchTensors(data: ShapeDataset, start: number, count: number, arch: Architecture): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const stride = data.size * data.size * 3;
  const raw = data.pixels.subarray(start * stride, (start + count) * stride);
  const floats = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) floats[i] = (raw[i]! - arch.mean) / arch.std;
  const x = tf.tensor4d(floats, [count, data.size, data.size, 3]);
  const y = tf.oneHot(tf.tensor1d(data.labels.subarray(start, start + count), 'int32'), CLASS_COUNT) as tf.Tensor2D;
  return { x, y };
}

async function train(arch: Architecture, trainSet: ShapeDataset): Promise<Params> {
  const params = initParams(arch, 1234);
  const optimizer = tf.train.adam(arch.learningRate);
  const batchSize = 32;
  for (let epoch = 0; epoch < arch.epochs; epoch++) {
    const t0 = performance.now();
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start + batchSize <= trainSet.count; start += batchSize) {
      const { x, y } = batchTensors(trainSet, start, batchSize, arch);
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(params, x)) as tf.Scalar, true);
      lossSum += (await loss!.data())[0]!;
      batches++;
      tf.dispose([x, y, loss!]);
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`  ${arch.name} epoch ${epoch + 1}/${arch.epochs}: loss ${(lossSum / batches).toFixed(4)} (${seconds.toFixed(1)} s)`);
  }
  optimizer.dispose();
  return params;
}

/** The same network as ordinary Keras-style layers, holding the trained weights. */
function toLayersModel(arch: Architecture, params: Params): tfl.LayersModel {
  const model = tfl.sequential({ name: arch.name.replace(/-/g, '_') });
  let channels = 3;
  arch.convFilters.forEach((filters, i) => {
    const conv = tfl.layers.conv2d({
      ...(i === 0 ? { inputShape: [IMAGE_SIZE, IMAGE_SIZE, 3] } : {}),
      filters,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
    });
    model.add(conv);
    const { kernel, bias } = params.convs[i]!;
    conv.setWeights([tf.reshape(kernel, [3, 3, channels, filters]), bias]);
    channels = filters;
    model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  });
  model.add(tfl.layers.flatten());
  params.denses.forEach(({ kernel, bias }, i) => {
    const last = i === params.denses.length - 1;
    const activation = !last ? 'relu' : arch.outputActivation === 'softmax' ? 'softmax' : 'linear';
    const dense = tfl.layers.dense({ units: kernel.shape[1]!, activation });
    model.add(dense);
    dense.setWeights([kernel, bias]);
  });
  return model;
}

/** Checks that the layers model computes what was trained (same logits/probabilities). */
function assertEquivalent(arch: Architecture, params: Params, model: tfl.LayersModel, data: ShapeDataset): void {
  const diff = tf.tidy(() => {
    const { x } = batchTensors(data, 0, 64, arch);
    const trained = forward(params, x);
    const expected = arch.outputActivation === 'softmax' ? tf.softmax(trained) : trained;
    return tf.max(tf.abs(tf.sub(expected, model.predict(x) as tf.Tensor))).dataSync()[0]!;
  });
  if (!(diff < 1e-3)) throw new Error(`${arch.name}: layers model differs from the trained network (max |diff| ${diff})`);
}

function accuracy(arch: Architecture, model: tfl.LayersModel, data: ShapeDataset): number {
  let correct = 0;
  for (let start = 0; start < data.count; start += 100) {
    const count = Math.min(100, data.count - start);
    const predicted = tf.tidy(() => {
      const { x } = batchTensors(data, start, count, arch);
      return tf.argMax(model.predict(x) as tf.Tensor, 1).dataSync();
    });
    for (let i = 0; i < count; i++) if (predicted[i] === data.labels[start + i]) correct++;
  }
  return correct / data.count;
}

async function save(model: tfl.LayersModel, dir: string, manifest: Record<string, unknown>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(dir, 'model.json'), `${JSON.stringify(modelJson)}\n`);
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(weights));
      await writeFile(join(dir, 'edgewatch.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const outRoot = quick ? await mkdtemp(join(tmpdir(), 'edgewatch-train-')) : join(root, 'models');
  await tf.setBackend('wasm');
  tf.enableProdMode();
  const started = performance.now();
  const trainCount = quick ? 320 : 4000;
  const testCount = quick ? 200 : 1000;
  console.log(`generating ${trainCount} training and ${testCount} test images (${IMAGE_SIZE}×${IMAGE_SIZE})...`);
  const trainSet = await makeShapeDataset(trainCount, 1, IMAGE_SIZE);
  const testSet = await makeShapeDataset(testCount, 2, IMAGE_SIZE);
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
  for (const base of ARCHITECTURES.filter((a) => only === undefined || a.name === only)) {
    const arch = quick ? { ...base, epochs: 1 } : base;
    console.log(`training ${arch.name}...`);
    const params = await train(arch, trainSet);
    const model = toLayersModel(arch, params);
    assertEquivalent(arch, params, model, testSet);
    const heldOut = accuracy(arch, model, testSet);
    console.log(`  ${arch.name}: held-out accuracy ${(heldOut * 100).toFixed(1)}% on ${testSet.count} test images`);
    const dir = join(outRoot, arch.name);
    await save(model, dir, {
      name: arch.name,
      description: arch.description,
      task: 'CLASSIFICATION',
      labels: [...SHAPE_LABELS],
      input: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 3, fit: 'fill', channelOrder: 'rgb', mean: [arch.mean, arch.mean, arch.mean], std: [arch.std, arch.std, arch.std] },
      output: { activation: arch.outputActivation },
      trainedAccuracy: Math.round(heldOut * 10000) / 10000,
    });
    console.log(`  saved ${dir}`);
    model.dispose();
    for (const v of [...params.convs, ...params.denses]) tf.dispose([v.kernel, v.bias]);
  }
  console.log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

await main();
