/** In-process ModelRunner on wasm with the demo models: valid predictions, accuracy on generated shapes, no tensor leaks, backends. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SHAPE_LABELS } from '../../src/demo/shapes.js';
import { isEdgewatchError } from '../../src/errors.js';
import { selectBackend } from '../../src/infer/backend.js';
import { ModelRunner } from '../../src/infer/model-runner.js';
import type { ClassificationPrediction } from '../../src/types.js';
import { DEMO_CHAMPION, DEMO_SHADOW, shapeInput } from '../helpers/models.js';

let champion: ModelRunner;
let shadow: ModelRunner;

before(async () => {
  assert.equal(await selectBackend('wasm'), 'wasm');
  champion = await ModelRunner.load(DEMO_CHAMPION, { topK: 3 });
  shadow = await ModelRunner.load(DEMO_SHADOW);
  await champion.warmUp();
  await shadow.warmUp();
});

after(() => {
  champion.dispose();
  shadow.dispose();
});

function assertValidClassification(p: ClassificationPrediction, labelCount: number, k: number): void {
  assert.equal(p.detection_texts, null);
  assert.equal(p.detection_classes.length, k);
  assert.equal(p.detection_scores.length, k);
  for (const c of p.detection_classes) assert.ok(Number.isInteger(c) && c >= 0 && c < labelCount, `class ${c}`);
  for (const s of p.detection_scores) assert.ok(typeof s === 'number' && s >= 0 && s <= 1, `score ${s}`);
  for (let i = 1; i < k; i++) assert.ok(p.detection_scores[i - 1]! >= p.detection_scores[i]!, 'sorted by score');
}

test('both demo models load on wasm with their manifests', () => {
  for (const r of [champion, shadow]) {
    assert.equal(r.info.backend, 'wasm');
    assert.equal(r.info.format, 'layers');
    assert.equal(r.info.task, 'CLASSIFICATION');
    assert.deepEqual(r.info.labels, [...SHAPE_LABELS]);
    assert.match(r.info.hash, /^[0-9a-f]{64}$/);
    assert.ok(r.info.trainedAccuracy! > 0.5);
  }
  assert.notEqual(champion.info.hash, shadow.info.hash);
  assert.equal(champion.info.name, 'demo-champion');
});

test('predictions are valid objects with top-k lengths and a real latency', async () => {
  const { input, original } = await shapeInput('circle', 1, champion.info.input);
  const c = await champion.predict(input, original);
  assertValidClassification(c.prediction, SHAPE_LABELS.length, 3);
  assert.ok(c.latencySeconds > 0 && c.latencySeconds < 60);
  const s = await shadow.predict(input, original);
  assertValidClassification(s.prediction, SHAPE_LABELS.length, 1);
  // The shadow outputs logits: the runner turns them into probabilities.
  assert.ok(s.prediction.detection_scores[0]! <= 1);
});

test('the champion and the shadow classify most generated shape images correctly', async () => {
  let championRight = 0;
  let shadowRight = 0;
  let total = 0;
  for (let seed = 100; seed < 106; seed++) {
    for (const [label, name] of SHAPE_LABELS.entries()) {
      const { input, original } = await shapeInput(name, seed * 10 + label, champion.info.input);
      if ((await champion.predict(input, original)).prediction.detection_classes[0] === label) championRight++;
      if ((await shadow.predict(input, original)).prediction.detection_classes[0] === label) shadowRight++;
      total++;
    }
  }
  assert.ok(championRight / total >= 0.6, `champion ${championRight}/${total}`);
  assert.ok(shadowRight / total >= 0.6, `shadow ${shadowRight}/${total}`);
});

test('200 predictions leave the tensor count unchanged', async () => {
  const { input, original } = await shapeInput('square', 7, champion.info.input);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) {
    await champion.predict(input, original);
    await shadow.predict(input, original);
  }
  assert.equal(tf.memory().numTensors, before);
});

test('a wrongly sized input is EW_INFER_FAILED and leaks nothing', async () => {
  const before = tf.memory().numTensors;
  await assert.rejects(
    champion.predict({ spec: { ...champion.info.input, width: 31 }, pixels: new Uint8Array(31 * 32 * 3) }, { width: 31, height: 32 }),
    (err: unknown) => isEdgewatchError(err, 'EW_INFER_FAILED'),
  );
  assert.equal(tf.memory().numTensors, before);
});

test('backend tensorflow, explicitly requested, fails with EW_BACKEND (tfjs-node is not installed here)', async () => {
  await assert.rejects(selectBackend('tensorflow'), (err: unknown) => isEdgewatchError(err, 'EW_BACKEND') && /tfjs-node/.test(err.message));
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(await selectBackend('auto'), 'wasm');
});
