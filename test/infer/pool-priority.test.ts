/** ModelPool on real TF.js (wasm): champion and shadow hosts, champion jobs never behind shadow jobs, cancel, one backend for every host. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { isEdgewatchError } from '../../src/errors.js';
import { ModelPool } from '../../src/infer/model-pool.js';
import type { ModelJob } from '../../src/infer/scheduler.js';
import { DEMO_CHAMPION, DEMO_SHADOW, shapeInput, tempDir, writeSlowModelFolder } from '../helpers/models.js';

/** Niceness a shadow host gets: 19 where a thread can renice itself alone (Linux), else 0. */
const SHADOW_NICENESS = existsSync('/proc/thread-self') ? 19 : 0;

test('with a slow shadow: champion jobs submitted after shadow jobs start before them and complete while a shadow job runs; cancel', async (t) => {
  const slow = await writeSlowModelFolder(await tempDir(t));
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: slow }], { workers: 2, backend: 'wasm' });
  t.after(() => pool.close());
  const [champion, shadow] = pool.models as [NonNullable<(typeof pool.models)[0]>, NonNullable<(typeof pool.models)[1]>];
  assert.equal(shadow.info.name, 'slow-shadow');
  const before = (await pool.memory()).map((m) => m.numTensors);
  const c = await shapeInput('circle', 5, champion.info.input);
  const s = await shapeInput('square', 6, shadow.info.input);

  const shadowJobs = [0, 1, 2, 3].map(() => shadow.submit(s.input, s.original));
  const [running, next, cancelled, last] = shadowJobs as [ModelJob, ModelJob, ModelJob, ModelJob];
  const shadowDone: ModelJob[] = [];
  for (const job of shadowJobs) job.result.then(() => shadowDone.push(job), () => undefined);
  assert.ok(running.startedAt !== undefined, 'the idle shadow host starts the first shadow job at once');
  assert.equal(next.startedAt, undefined, 'one job per host: the others wait in the queue');
  assert.equal(shadow.queued, 3);
  assert.equal(cancelled.cancel(), true);
  assert.equal(shadow.queued, 2);
  await assert.rejects(cancelled.result, (err: unknown) => isEdgewatchError(err, 'EW_INFER_CANCELLED'));
  assert.equal(running.cancel(), false, 'a started job is not cancelled');

  const championJobs = [0, 1, 2, 3, 4].map(() => champion.submit(c.input, c.original));
  const results = await Promise.all(championJobs.map((j) => j.result));
  assert.deepEqual(shadowDone, [], 'every champion job completed while the first shadow job was still running');
  for (const job of championJobs) assert.ok((job.startedAt as number) > (running.startedAt as number));
  assert.equal(next.startedAt, undefined, 'the shadow jobs submitted before them have not started yet');
  for (const r of results) assert.equal(r.prediction.detection_classes.length, 1);

  await Promise.all([running.result, next.result, last.result]);
  assert.deepEqual(shadowDone, [running, next, last], 'shadow jobs run in submission order');
  assert.equal(cancelled.startedAt, undefined, 'the cancelled job never ran');
  assert.deepEqual((await pool.memory()).map((m) => m.numTensors), before, 'no tensor leaked in any host');
});

test('wasm: every host reports wasm, champion hosts hold the champion only, half as many shadow hosts the shadow only at low priority', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, backend: 'wasm' });
  t.after(() => pool.close());
  assert.deepEqual(pool.hosts, [
    { models: [0], backend: 'wasm', niceness: 0 },
    { models: [0], backend: 'wasm', niceness: 0 },
    { models: [1], backend: 'wasm', niceness: SHADOW_NICENESS },
  ]);
  assert.equal(pool.note, undefined);
  for (const m of pool.models) assert.equal(m.backend, 'wasm');
  const alone = await ModelPool.start([{ dir: DEMO_CHAMPION }], { workers: 2, backend: 'auto' });
  t.after(() => alone.close());
  assert.deepEqual(
    alone.hosts.map((h) => h.models),
    [[0], [0]],
    'no shadow: champion hosts only',
  );
  assert.ok(alone.hosts.every((h) => h.backend === alone.hosts[0]!.backend && h.niceness === 0), 'auto resolved once, the same backend everywhere');
});

test('workers 1 with a shadow: one wasm host holds both models (the low-memory mode), a champion job submitted after shadow jobs runs next', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 1, backend: 'wasm' });
  t.after(() => pool.close());
  assert.deepEqual(pool.hosts, [{ models: [0, 1], backend: 'wasm', niceness: 0 }]);
  assert.match(pool.note ?? '', /workers: 1: one model host holds the champion and the shadow/);
  const [champion, shadow] = pool.models as [NonNullable<(typeof pool.models)[0]>, NonNullable<(typeof pool.models)[1]>];
  assert.equal(shadow.info.name, 'demo-shadow');
  const { input, original } = await shapeInput('cross', 8, champion.info.input);
  const before = (await pool.memory()).map((m) => m.numTensors);
  const shadows = [0, 1, 2].map(() => shadow.submit(input, original));
  const late = champion.submit(input, original);
  await Promise.all([...shadows, late].map((j) => j.result));
  const order = [...shadows, late].sort((a, b) => (a.startedAt as number) - (b.startedAt as number));
  assert.deepEqual(order, [shadows[0], late, shadows[1], shadows[2]]);
  assert.deepEqual((await pool.memory()).map((m) => m.numTensors), before);
});

test('shadowWorkers sets the number of shadow hosts beside the champion hosts', async (t) => {
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, shadowWorkers: 2, backend: 'wasm' });
  t.after(() => pool.close());
  assert.deepEqual(
    pool.hosts.map((h) => h.models),
    [[0], [0], [1], [1]],
  );
  await assert.rejects(ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, shadowWorkers: 0, backend: 'wasm' }), RangeError);
});
