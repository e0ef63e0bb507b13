/** ModelWorker: same predictions as in-process, errors carried across threads, crash handling, idempotent close. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isEdgewatchError } from '../../src/errors.js';
import { selectBackend } from '../../src/infer/backend.js';
import { ModelRunner } from '../../src/infer/model-runner.js';
import { ModelWorker } from '../../src/infer/model-worker.js';
import { DEMO_CHAMPION, DEMO_SHADOW, shapeInput, tempDir, writeTinyModelFolder } from '../helpers/models.js';

test('worker and in-process runner give the same prediction; champion and shadow run side by side', async (t) => {
  await selectBackend('wasm');
  const local = await ModelRunner.load(DEMO_CHAMPION, { topK: 2 });
  t.after(() => local.dispose());
  await local.warmUp();
  const [champion, shadow] = await Promise.all([
    ModelWorker.start(DEMO_CHAMPION, { backend: 'wasm', topK: 2 }),
    ModelWorker.start(DEMO_SHADOW, { backend: 'wasm' }),
  ]);
  t.after(() => Promise.all([champion.close(), shadow.close()]));
  assert.equal(champion.backend, 'wasm');
  assert.equal(champion.info.hash, local.info.hash);
  assert.deepEqual(champion.info.input, local.info.input);
  const { input, original } = await shapeInput('triangle', 3, champion.info.input);
  const [fromWorker, fromShadow] = await Promise.all([champion.predict(input, original), shadow.predict(input, original)]);
  const inProcess = await local.predict(input, original);
  assert.deepEqual(fromWorker.prediction.detection_classes, inProcess.prediction.detection_classes);
  fromWorker.prediction.detection_scores.forEach((s, i) => assert.ok(Math.abs(s - inProcess.prediction.detection_scores[i]!) < 1e-6));
  assert.ok(fromWorker.latencySeconds > 0);
  assert.equal(fromShadow.prediction.detection_classes.length, 1);
  assert.equal(input.pixels.length, 32 * 32 * 3, 'the caller keeps its pixel buffer');
});

test('queued predictions are answered in order and the worker leaks no tensors', async (t) => {
  const worker = await ModelWorker.start(DEMO_CHAMPION, { backend: 'wasm' });
  t.after(() => worker.close());
  const inputs = await Promise.all(['circle', 'square', 'cross'].map((l, i) => shapeInput(l as 'circle', 50 + i, worker.info.input)));
  const before = await worker.memory();
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => worker.predict(inputs[i % 3]!.input, inputs[i % 3]!.original)));
  for (let i = 3; i < results.length; i++) assert.deepEqual(results[i]!.prediction, results[i % 3]!.prediction);
  assert.equal((await worker.memory()).numTensors, before.numTensors);
});

test('load errors are re-thrown in the main thread with the same code', async (t) => {
  const dir = await writeTinyModelFolder(await tempDir(t), { task: 'CLASSIFICATION', labels: ['a', 'b', 'c'] });
  await rm(join(dir, 'model.json'));
  await assert.rejects(ModelWorker.start(dir, { backend: 'wasm' }), (err: unknown) => isEdgewatchError(err, 'EW_MODEL_LOAD') && err.message.includes('model.json'));
  await assert.rejects(ModelWorker.start(dir, { backend: 'tensorflow' }), (err: unknown) => isEdgewatchError(err, 'EW_BACKEND'));
});

test('a crashed worker rejects pending and later predictions with EW_WORKER_CRASHED; close is idempotent', async () => {
  const worker = await ModelWorker.start(DEMO_CHAMPION, { backend: 'wasm' });
  const { input, original } = await shapeInput('circle', 9, worker.info.input);
  await worker.predict(input, original);
  worker.crashForTest();
  const pending = worker.predict(input, original);
  await assert.rejects(pending, (err: unknown) => isEdgewatchError(err, 'EW_WORKER_CRASHED'));
  await assert.rejects(worker.predict(input, original), (err: unknown) => isEdgewatchError(err, 'EW_WORKER_CRASHED'));
  const first = worker.close();
  assert.equal(worker.close(), first);
  await first;
});

test('predict after close is rejected', async () => {
  const worker = await ModelWorker.start(DEMO_CHAMPION, { backend: 'wasm' });
  await worker.close();
  await assert.rejects(worker.predict({ spec: worker.info.input, pixels: new Uint8Array(32 * 32 * 3) }, { width: 32, height: 32 }), (err: unknown) =>
    isEdgewatchError(err, 'EW_INFER_FAILED'),
  );
});
