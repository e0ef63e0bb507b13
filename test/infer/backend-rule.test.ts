/** One backend per pool, with a stand-in for tfjs-node that (like the native binding) loads once per process: `tensorflow` gets one host holding every model. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEdgewatchError } from '../../src/errors.js';
import { ModelPool } from '../../src/infer/model-pool.js';
import { ModelWorker } from '../../src/infer/model-worker.js';
import { DEMO_CHAMPION, DEMO_SHADOW, shapeInput } from '../helpers/models.js';

/** Not imported here: importing it in this thread would take the process's one load. */
const NATIVE_STANDIN = new URL('../fixtures/native-standin.mjs', import.meta.url).href;
/** The stand-in's process-wide lock and its log of load attempts (names as in the fixture). */
const lockFile = join(tmpdir(), `edgewatch-native-standin-${process.pid}.lock`);
const logFile = join(tmpdir(), `edgewatch-native-standin-${process.pid}.log`);

/** The stand-in's load attempts in this process (one line each). */
async function loads(): Promise<string[]> {
  return (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

function cleanUp(t: TestContext): void {
  t.after(() => Promise.all([rm(lockFile, { force: true }), rm(logFile, { force: true })]));
}

test('auto with a native backend: workers 2 and a shadow start ONE host holding both models, on tensorflow; the binding is loaded once', async (t) => {
  cleanUp(t);
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }, { dir: DEMO_SHADOW }], { workers: 2, backend: 'auto', nativeModule: NATIVE_STANDIN });
  t.after(() => pool.close());
  assert.equal(pool.size, 1);
  assert.deepEqual(pool.hosts, [{ models: [0, 1], backend: 'tensorflow', preemptive: false, interrupts: 0 }]);
  assert.match(pool.note ?? '', /one model host/);
  for (const m of pool.models) assert.equal(m.backend, 'tensorflow');
  assert.deepEqual(
    pool.models.map((m) => m.info.name),
    ['demo-champion', 'demo-shadow'],
  );
  const [champion, shadow] = pool.models;
  const { input, original } = await shapeInput('cross', 4, champion!.info.input);
  const before = (await pool.memory()).map((m) => m.numTensors);

  // On the shared host a champion job submitted after shadow jobs starts right after the running one.
  const shadows = [0, 1, 2].map(() => shadow!.submit(input, original));
  const late = champion!.submit(input, original);
  const results = await Promise.all([...shadows, late].map((j) => j.result));
  const order = [...shadows, late].sort((a, b) => (a.startedAt as number) - (b.startedAt as number));
  assert.deepEqual(order, [shadows[0], late, shadows[1], shadows[2]]);
  for (const r of results) assert.equal(r.prediction.detection_classes.length, 1);
  assert.deepEqual((await pool.memory()).map((m) => m.numTensors), before);

  assert.equal((await loads()).length, 1, 'the binding was loaded once');
  // What a second thread would have met: the stand-in refuses a second load in this process.
  await assert.rejects(ModelWorker.start(DEMO_CHAMPION, { backend: 'tensorflow', nativeModule: NATIVE_STANDIN }), (err: unknown) => isEdgewatchError(err, 'EW_BACKEND'));
  assert.deepEqual(
    (await loads()).map((l) => l.split(' ')[0]),
    ['loaded', 'refused'],
  );
});

test('explicit tensorflow with a native backend and no shadow: one host, the calibration keeps it', async (t) => {
  cleanUp(t);
  const pool = await ModelPool.start([{ dir: DEMO_CHAMPION }], { workers: 3, backend: 'tensorflow', nativeModule: NATIVE_STANDIN });
  t.after(() => pool.close());
  assert.deepEqual(pool.hosts, [{ models: [0], backend: 'tensorflow', preemptive: false, interrupts: 0 }]);
  assert.match(pool.note ?? '', /workers: 3 does not apply/);
  const c = await pool.calibrate(1);
  assert.equal(c.workers, 1);
  assert.equal(c.kept, 1);
  assert.equal((await loads()).length, 1);
});
