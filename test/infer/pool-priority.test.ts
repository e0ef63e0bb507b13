/** ModelPool on real TF.js (wasm): hosts holding both models, champion jobs never behind shadow jobs (interrupting them), cancel, one backend for every host. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEdgewatchError } from '../../src/errors.js';
import { ModelPool } from '../../src/infer/model-pool.js';
import type { ModelJob } from '../../src/infer/scheduler.js';
import { DEMO_CHAMPION, DEMO_SHADOW, shapeInput, tempDir, writeSlowModelFolder } from '../helpers/models.js';

// Whether a champion job really runs inside a shadow prediction, answered before it, is checked on a
// host where the test can see the shadow running (kernel-gate.test.ts); here, what the pool decides.
test('with a slow shadow: champion jobs submitted after shadow jobs start at once on the busy hosts, all before the queued shadow jobs; cancel', async (t) => {
  const slow = await writeSlowModelFolder(await tempDir(t));
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: slow }], { workers: 2, backend: 'wasm' });
  t.after(() => pool.close());
  const [champion, shadow] = pool.models as [NonNullable<(typeof pool.models)[0]>, NonNullable<(typeof pool.models)[1]>];
  assert.equal(shadow.info.name, 'slow-shadow');
  const before = (await pool.memory()).map((m) => m.numTensors);
  const c = await shapeInput('circle', 5, champion.info.input);
  const s = await shapeInput('square', 6, shadow.info.input);

  const shadowJobs = [0, 1, 2, 3, 4].map(() => shadow.submit(s.input, s.original));
  const [first, second, next, cancelled, last] = shadowJobs as [ModelJob, ModelJob, ModelJob, ModelJob, ModelJob];
  assert.ok(first.startedAt !== undefined && second.startedAt !== undefined, 'the two idle hosts start the first two shadow jobs at once');
  assert.equal(next.startedAt, undefined, 'one shadow job per host: the others wait in the queue');
  assert.equal(shadow.queued, 3);
  assert.equal(cancelled.cancel(), true);
  assert.equal(shadow.queued, 2);
  await assert.rejects(cancelled.result, (err: unknown) => isEdgewatchError(err, 'EW_INFER_CANCELLED'));
  assert.equal(first.cancel(), false, 'a started job is not cancelled');

  const championJobs = [0, 1, 2, 3, 4].map(() => champion.submit(c.input, c.original));
  assert.equal(championJobs.filter((j) => j.startedAt !== undefined).length, 2, 'one champion job starts at once on each host, beside its shadow job');
  const results = await Promise.all(championJobs.map((j) => j.result));
  for (const r of results) assert.equal(r.prediction.detection_classes.length, 1);
  await Promise.all([first.result, second.result, next.result, last.result]);
  // Read through a function: the asserts above narrowed `startedAt` to undefined for the compiler.
  const startOf = (job: ModelJob) => job.startedAt ?? Number.NaN;
  assert.ok(Math.max(...championJobs.map(startOf)) < startOf(next), 'every champion job started before the shadow jobs queued ahead of it');
  assert.ok(startOf(next) <= startOf(last), 'queued shadow jobs start in submission order');
  assert.equal(cancelled.startedAt, undefined, 'the cancelled job never ran');
  assert.deepEqual((await pool.memory()).map((m) => m.numTensors), before, 'no tensor leaked in any host');
});

test('wasm: every host reports wasm and holds both models, pre-emptive; without a shadow, the champion only', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, backend: 'wasm' });
  t.after(() => pool.close());
  assert.deepEqual(pool.hosts, [
    { models: [0, 1], backend: 'wasm', preemptive: true, interrupts: 0 },
    { models: [0, 1], backend: 'wasm', preemptive: true, interrupts: 0 },
  ]);
  assert.equal(pool.note, undefined);
  for (const m of pool.models) assert.equal(m.backend, 'wasm');
  const alone = await ModelPool.start([{ dir: DEMO_CHAMPION }], { workers: 2, backend: 'auto' });
  t.after(() => alone.close());
  assert.deepEqual(
    alone.hosts.map((h) => h.models),
    [[0], [0]],
    'no shadow: the champion only',
  );
  assert.ok(alone.hosts.every((h) => h.backend === alone.hosts[0]!.backend), 'auto resolved once, the same backend everywhere');
});

test('workers 1 with a shadow: one pre-emptive wasm host holds both models (the low-memory mode); a champion job submitted after shadow jobs starts at once', async (t) => {
  const slow = await writeSlowModelFolder(await tempDir(t));
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: slow }], { workers: 1, backend: 'wasm' });
  t.after(() => pool.close());
  assert.deepEqual(pool.hosts.map((h) => h.preemptive), [true]);
  const [champion, shadow] = pool.models as [NonNullable<(typeof pool.models)[0]>, NonNullable<(typeof pool.models)[1]>];
  const c = await shapeInput('cross', 8, champion.info.input);
  const s = await shapeInput('square', 9, shadow.info.input);
  const before = (await pool.memory()).map((m) => m.numTensors);
  const shadows = [0, 1, 2].map(() => shadow.submit(s.input, s.original));
  const late = champion.submit(c.input, c.original);
  assert.ok(shadows[0]!.startedAt !== undefined && late.startedAt !== undefined, 'the champion job starts at once, beside the running shadow job');
  assert.ok(shadows[1]!.startedAt === undefined && shadows[2]!.startedAt === undefined, 'the queued shadow jobs wait');
  assert.equal((await late.result).prediction.detection_classes.length, 1);
  await Promise.all(shadows.map((j) => j.result));
  assert.deepEqual((await pool.memory()).map((m) => m.numTensors), before);
});

test('shadowWorkers sets how many hosts hold the shadow too; the champion-only hosts take champion jobs first', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, shadowWorkers: 1, backend: 'wasm' });
  t.after(() => pool.close());
  assert.deepEqual(
    pool.hosts.map((h) => h.models),
    [[0, 1], [0]],
  );
  const capped = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 1, shadowWorkers: 3, backend: 'wasm' });
  t.after(() => capped.close());
  assert.deepEqual(capped.hosts.map((h) => h.models), [[0, 1]], 'at most every host');
  await assert.rejects(ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, shadowWorkers: 0, backend: 'wasm' }), RangeError);
});

test('no shadow job starts while an image is on its way to the champion (championAhead); the last release starts it', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, backend: 'wasm' });
  t.after(() => pool.close());
  const [champion, shadow] = pool.models as [NonNullable<(typeof pool.models)[0]>, NonNullable<(typeof pool.models)[1]>];
  const { input, original } = await shapeInput('circle', 3, shadow.info.input);
  const first = pool.championAhead();
  const second = pool.championAhead();
  const held = shadow.submit(input, original);
  assert.equal(held.startedAt, undefined, 'held back while images are being read and decoded');
  const c = champion.submit(input, original);
  assert.ok(c.startedAt !== undefined, 'champion jobs are not held');
  first();
  first();
  assert.equal(held.startedAt, undefined, 'one image is still on its way (a second call of the same release counts once)');
  second();
  assert.ok(held.startedAt !== undefined, 'started once no image is on its way');
  await Promise.all([held.result, c.result]);
});
