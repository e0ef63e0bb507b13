/** ModelPool: hosts holding the champion (and the shadow), predictions spread over hosts, results match a single worker, errors, crashed hosts and close. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isEdgewatchError } from '../../src/errors.js';
import { ModelPool } from '../../src/infer/model-pool.js';
import { ModelWorker } from '../../src/infer/model-worker.js';
import { DEMO_CHAMPION, DEMO_SHADOW, shapeInput, tempDir } from '../helpers/models.js';

test('a pool of two workers (two hosts holding both models) answers both models like single workers do, and leaks no tensors', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, backend: 'wasm', topK: 2 });
  t.after(() => pool.close());
  const single = await ModelWorker.start(DEMO_SHADOW, { backend: 'wasm', topK: 2 });
  t.after(() => single.close());
  assert.equal(pool.size, 2, 'workers: 2 hosts, each holding both models');
  const [champion, shadow] = pool.models;
  assert.equal(champion?.info.name, 'demo-champion');
  assert.equal(shadow?.info.name, 'demo-shadow');
  assert.equal(shadow?.info.hash, single.info.hash);
  const before = (await pool.memory()).map((m) => m.numTensors);
  const inputs = await Promise.all(['circle', 'square', 'cross', 'stripes'].map((l, i) => shapeInput(l as 'circle', 70 + i, shadow!.info.input)));
  const results = await Promise.all(inputs.flatMap(({ input, original }) => [champion!.predict(input, original), shadow!.predict(input, original)]));
  assert.equal(results.length, 8);
  for (const r of results) assert.ok(r.latencySeconds > 0 && r.prediction.detection_classes.length === 2);
  for (const [i, { input, original }] of inputs.entries()) {
    const expected = await single.predict(input, original);
    assert.deepEqual(results[i * 2 + 1]!.prediction.detection_classes, expected.prediction.detection_classes);
  }
  assert.deepEqual((await pool.memory()).map((m) => m.numTensors), before, 'tensor counts unchanged in every worker');
});

test('a pool that cannot load a model fails with the model error and leaves no worker behind', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: join(dir, 'missing') }], { workers: 2, backend: 'wasm' }), (err: unknown) => isEdgewatchError(err) && /^EW_MODEL_/.test(err.code));
  await assert.rejects(ModelPool.start([{ dir: DEMO_CHAMPION }], { workers: 0, backend: 'wasm' }), RangeError);
});

test('calibrate measures one host against all and, when more do not pay, keeps one host holding both models', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, backend: 'wasm' });
  t.after(() => pool.close());
  const c = await pool.calibrate(2, 1e9);
  assert.ok(c.oneWorkerPerSecond > 0 && c.allWorkersPerSecond > 0);
  assert.equal(c.workers, 2);
  assert.equal(c.kept, 1, 'an unreachable gain keeps one worker');
  assert.equal(pool.size, 1);
  assert.deepEqual(
    pool.hosts.map((h) => h.models),
    [[0, 1]],
  );
  const { input, original } = await shapeInput('circle', 1, pool.models[0]!.info.input);
  assert.equal((await pool.models[0]!.predict(input, original)).prediction.detection_classes.length, 1);
  assert.equal((await pool.models[1]!.predict(input, original)).prediction.detection_classes.length, 1);
});

test('a crashed host gets no more jobs: the other host of the model takes them; with none left, EW_WORKER_CRASHED', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }], { workers: 2, backend: 'wasm' });
  t.after(() => pool.close());
  const champion = pool.models[0]!;
  const { input, original } = await shapeInput('square', 2, champion.info.input);
  pool.crashHostForTest(0);
  await until(() => pool.size === 1);
  const results = await Promise.all(Array.from({ length: 4 }, () => champion.predict(input, original)));
  assert.equal(results.length, 4);
  pool.crashHostForTest(0);
  await until(() => pool.size === 0);
  await assert.rejects(champion.predict(input, original), (err: unknown) => isEdgewatchError(err, 'EW_WORKER_CRASHED'));
  const first = pool.close();
  assert.equal(pool.close(), first);
  await first;
  await assert.rejects(champion.predict(input, original), (err: unknown) => isEdgewatchError(err, 'EW_INFER_FAILED'));
});

/** Polls `condition` until it holds (a crash is noticed when the thread's exit event arrives). */
async function until(condition: () => boolean, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
