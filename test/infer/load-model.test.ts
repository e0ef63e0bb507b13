/** Loading model folders from disk: good layers models, Teachable Machine folders, and every kind of broken folder. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { isEdgewatchError, type ErrorCode } from '../../src/errors.js';
import { selectBackend } from '../../src/infer/backend.js';
import { loadModelFolder } from '../../src/infer/load-model.js';
import { ModelRunner } from '../../src/infer/model-runner.js';
import { saveLayersModel, tempDir, writeDetectionGraphModel, writeTinyModelFolder } from '../helpers/models.js';

const MANIFEST = { name: 'tiny', task: 'CLASSIFICATION', labels: ['a', 'b', 'c'] };

before(async () => {
  await selectBackend('wasm');
});

async function assertLoadFails(dir: string, code: ErrorCode, fileInMessage: string): Promise<void> {
  await assert.rejects(loadModelFolder(dir), (err: unknown) => {
    assert.ok(isEdgewatchError(err, code), `expected ${code}, got ${String(err)}`);
    assert.ok(err.message.includes(fileInMessage), `message names ${fileInMessage}: ${err.message}`);
    return true;
  });
}

test('a layers model folder loads with its manifest, input spec from the model and a stable hash', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), MANIFEST);
  const a = await loadModelFolder(dir);
  assert.equal(a.format, 'layers');
  assert.equal(a.name, 'tiny');
  assert.deepEqual(a.input, { width: 8, height: 8, channels: 3, fit: 'fill' });
  assert.match(a.hash, /^[0-9a-f]{64}$/);
  const b = await loadModelFolder(dir, { name: 'renamed' });
  assert.equal(b.hash, a.hash);
  assert.equal(b.name, 'renamed');
  await writeFile(join(dir, 'edgewatch.json'), JSON.stringify({ ...MANIFEST, description: 'changed' }));
  const c = await loadModelFolder(dir);
  assert.notEqual(c.hash, a.hash, 'the manifest is part of the hash');
  for (const m of [a, b, c]) m.model.dispose();
});

test('missing model.json → EW_MODEL_LOAD naming it', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), MANIFEST);
  await rm(join(dir, 'model.json'));
  await assertLoadFails(dir, 'EW_MODEL_LOAD', 'model.json');
});

test('missing shard → EW_MODEL_LOAD naming the shard', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), MANIFEST);
  await rm(join(dir, 'weights.bin'));
  await assertLoadFails(dir, 'EW_MODEL_LOAD', 'weights.bin');
});

test('truncated shard → EW_MODEL_LOAD', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), MANIFEST);
  await truncate(join(dir, 'weights.bin'), 10);
  await assertLoadFails(dir, 'EW_MODEL_LOAD', 'weights.bin');
});

test('invalid model.json → EW_MODEL_LOAD; JSON that is not a model → EW_MODEL_LOAD', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), MANIFEST);
  await writeFile(join(dir, 'model.json'), '{"modelTopology": ');
  await assertLoadFails(dir, 'EW_MODEL_LOAD', 'model.json');
  await writeFile(join(dir, 'model.json'), '{"hello": 1}');
  await assertLoadFails(dir, 'EW_MODEL_LOAD', 'modelTopology');
});

test('bad, invalid or missing manifest → EW_MODEL_MANIFEST', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), { task: 'CLASSIFICATION', labels: 'abc' });
  await assertLoadFails(dir, 'EW_MODEL_MANIFEST', 'edgewatch.json');
  await writeFile(join(dir, 'edgewatch.json'), '{ nope');
  await assertLoadFails(dir, 'EW_MODEL_MANIFEST', 'edgewatch.json');
  await rm(join(dir, 'edgewatch.json'));
  await assertLoadFails(dir, 'EW_MODEL_MANIFEST', 'edgewatch.json');
});

test('manifest contradicting the model input → EW_MODEL_INPUT', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), { ...MANIFEST, input: { width: 16 } });
  await assertLoadFails(dir, 'EW_MODEL_INPUT', 'width');
});

test('input that is not rank 4 → EW_MODEL_INPUT', async (t) => {
  const dir = await tempDir(t);
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ inputShape: [10], units: 3, activation: 'softmax' }));
  await saveLayersModel(model, dir);
  model.dispose();
  await writeFile(join(dir, 'edgewatch.json'), JSON.stringify(MANIFEST));
  await assertLoadFails(dir, 'EW_MODEL_INPUT', 'rank 4');
});

test('a classifier whose output does not match the labels fails at warm-up with EW_MODEL_OUTPUT', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), { ...MANIFEST, labels: ['a', 'b'] });
  const runner = await ModelRunner.load(dir);
  t.after(() => runner.dispose());
  await assert.rejects(runner.warmUp(), (err: unknown) => isEdgewatchError(err, 'EW_MODEL_OUTPUT'));
});

test('a Teachable Machine folder (metadata.json, no edgewatch.json) works as-is', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), undefined, 16, 2);
  await writeFile(join(dir, 'metadata.json'), JSON.stringify({ tfjsVersion: '1.3.1', tmVersion: '2.4.7', packageName: '@teachablemachine/image', modelName: 'tm-my-image-model', labels: ['cat', 'dog'], imageSize: 16 }));
  const runner = await ModelRunner.load(dir, { topK: 2 });
  t.after(() => runner.dispose());
  await runner.warmUp();
  assert.equal(runner.info.manifestFile, 'metadata.json');
  assert.equal(runner.info.task, 'CLASSIFICATION');
  assert.deepEqual(runner.info.labels, ['cat', 'dog']);
  assert.deepEqual(runner.info.input, { width: 16, height: 16, channels: 3, fit: 'cover' });
  const { prediction } = await runner.predict({ spec: runner.info.input, pixels: new Uint8Array(16 * 16 * 3).fill(200) }, { width: 640, height: 480 });
  assert.deepEqual([...prediction.detection_classes].sort(), [0, 1]);
  const sum = prediction.detection_scores.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-5);
  const metadata = await readFile(join(dir, 'metadata.json'));
  assert.ok(metadata.length > 0);
});

test('a graph model with a centernet-style output gives integer boxes in original pixels', async (t) => {
  const dir = await tempDir(t);
  await writeDetectionGraphModel(dir, 16, [
    [0.1, 0.2, 0.5, 0.6, 0.8, 3],
    [0, 0, 1, 1, 0.1, 1],
    [0.5, 0.5, 1, 1, 0.95, 0],
  ]);
  await writeFile(join(dir, 'edgewatch.json'), JSON.stringify({ task: 'OBJECT_DETECTION', labels: ['a', 'b', 'c', 'd'], output: { decoder: 'centernet', scoreThreshold: 0.5 } }));
  const runner = await ModelRunner.load(dir);
  t.after(() => runner.dispose());
  assert.equal(runner.info.format, 'graph');
  assert.equal(runner.info.task, 'OBJECT_DETECTION');
  await runner.warmUp();
  const { prediction, latencySeconds } = await runner.predict({ spec: runner.info.input, pixels: new Uint8Array(16 * 16 * 3) }, { width: 200, height: 100 });
  assert.ok(latencySeconds > 0);
  assert.deepEqual(prediction.detection_classes, [0, 3]);
  assert.ok(Math.abs(prediction.detection_scores[0]! - 0.95) < 1e-6);
  assert.ok('detection_boxes' in prediction);
  assert.deepEqual(prediction.detection_boxes, [
    [50, 100, 100, 200],
    [20, 20, 60, 100],
  ]);
});
