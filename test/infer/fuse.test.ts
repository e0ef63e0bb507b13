/** Fused execution of layers models: batch norms folded into convolutions, same outputs as the layers model, fallback when unsupported. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend } from '../../src/infer/backend.js';
import { compileLayersModel } from '../../src/infer/fuse-layers.js';
import { ModelRunner } from '../../src/infer/model-runner.js';
import { DEMO_CHAMPION, DEMO_SHADOW, saveLayersModel, shapeInput, tempDir } from '../helpers/models.js';

/** A MobileNetV2-style block: pad, conv → BN → ReLU6, depthwise → BN → ReLU6, project conv → BN, residual add, pooling, dense. */
function mobileBlockModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3] });
  const randomBn = () => ({ gammaInitializer: 'randomUniform', betaInitializer: 'randomUniform', movingMeanInitializer: 'randomUniform', movingVarianceInitializer: 'ones' }) as const;
  let x = tfl.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization(randomBn()).apply(x) as tfl.SymbolicTensor;
  const stem = tfl.layers.reLU({ maxValue: 6 }).apply(x) as tfl.SymbolicTensor;
  let y = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }).apply(stem) as tfl.SymbolicTensor;
  y = tfl.layers.batchNormalization(randomBn()).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.reLU({ maxValue: 6 }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.batchNormalization(randomBn()).apply(y) as tfl.SymbolicTensor;
  let z = tfl.layers.add().apply([stem, y]) as tfl.SymbolicTensor;
  z = tfl.layers.globalAveragePooling2d({}).apply(z) as tfl.SymbolicTensor;
  z = tfl.layers.dense({ units: 4, activation: 'softmax' }).apply(z) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: z });
}

test('a MobileNet-style block compiles to fewer fused ops with the same output and no tensor leak', async () => {
  await selectBackend('wasm');
  const model = mobileBlockModel();
  const plan = compileLayersModel(model);
  assert.ok(!('unsupported' in plan), JSON.stringify(plan));
  assert.ok(plan.ops < plan.layers, `${plan.layers} layers → ${plan.ops} ops`);
  const x = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
  const expected = (model.predict(x) as tf.Tensor).dataSync();
  const before = tf.memory().numTensors;
  const out = plan.run(x);
  const actual = out.dataSync();
  out.dispose();
  assert.equal(tf.memory().numTensors, before);
  expected.forEach((v, i) => assert.ok(Math.abs(v - actual[i]!) < 1e-5, `output ${i}: ${v} vs ${actual[i]}`));
  plan.dispose();
  x.dispose();
  model.dispose();
});

test('an unsupported layer is reported and the runner keeps the layers model', async (t) => {
  await selectBackend('wasm');
  const input = tfl.input({ shape: [8, 8, 3] });
  const conv = tfl.layers.conv2d({ filters: 4, kernelSize: 3 }).apply(input) as tfl.SymbolicTensor;
  const leaky = tfl.layers.leakyReLU({ alpha: 0.1 }).apply(conv) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2, activation: 'softmax' }).apply(tfl.layers.flatten().apply(leaky) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  const plan = compileLayersModel(model);
  assert.ok('unsupported' in plan && /LeakyReLU/.test(plan.unsupported));
  const dir = await tempDir(t);
  await saveLayersModel(model, dir);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(`${dir}/edgewatch.json`, JSON.stringify({ name: 'leaky', task: 'CLASSIFICATION', labels: ['a', 'b'], input: { fit: 'fill', mean: 0, std: 255 }, output: { activation: 'softmax' } }));
  const runner = await ModelRunner.load(dir);
  t.after(() => runner.dispose());
  assert.equal(runner.info.execution?.mode, 'layers');
  assert.match(runner.info.execution?.detail ?? '', /not fused: layer LeakyReLU/);
});

test('the demo models run fused and predict exactly as unfused; optimize: false keeps the layers model', async (t) => {
  await selectBackend('wasm');
  for (const dir of [DEMO_CHAMPION, DEMO_SHADOW]) {
    const fused = await ModelRunner.load(dir);
    const plain = await ModelRunner.load(dir, { optimize: false });
    t.after(() => {
      fused.dispose();
      plain.dispose();
    });
    assert.equal(fused.info.execution?.mode, 'fused');
    assert.equal(plain.info.execution?.mode, 'layers');
    for (const [i, label] of (['circle', 'cross', 'stripes'] as const).entries()) {
      const { input, original } = await shapeInput(label, 90 + i, fused.info.input);
      const a = await fused.predict(input, original);
      const b = await plain.predict(input, original);
      assert.deepEqual(a.prediction.detection_classes, b.prediction.detection_classes);
      assert.ok(Math.abs(a.prediction.detection_scores[0]! - b.prediction.detection_scores[0]!) < 1e-5);
    }
  }
});

test('a plan that fails its check is dropped and the layers model reloaded: same predictions as unfused, no tensor left behind', async (t) => {
  await selectBackend('wasm');
  const before = tf.memory().numTensors;
  const rejected = await ModelRunner.load(DEMO_CHAMPION, { fusedTolerance: -1 });
  const plain = await ModelRunner.load(DEMO_CHAMPION, { optimize: false });
  t.after(() => {
    rejected.dispose();
    plain.dispose();
  });
  assert.equal(rejected.info.execution?.mode, 'layers');
  assert.match(rejected.info.execution?.detail ?? '', /not fused: output differs by/);
  const { input, original } = await shapeInput('circle', 3, rejected.info.input);
  assert.deepEqual((await rejected.predict(input, original)).prediction, (await plain.predict(input, original)).prediction);
  rejected.dispose();
  plain.dispose();
  assert.equal(tf.memory().numTensors, before);
});
