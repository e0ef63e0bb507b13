/** The urgent lane on a real wasm host: a champion request sent while the host runs a slow shadow prediction starts between two of its kernels. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelWorker } from '../../src/infer/model-worker.js';
import { DEMO_CHAMPION, shapeInput, tempDir, writeSlowModelFolder } from '../helpers/models.js';

test('a champion request interrupts a running shadow prediction: answered first, the same prediction as alone, not counted in the shadow latency, no tensor left', async (t) => {
  const slow = await writeSlowModelFolder(await tempDir(t));
  const host = await ModelWorker.startMany([{ dir: DEMO_CHAMPION }, { dir: slow }], { backend: 'wasm' });
  t.after(() => host.close());
  assert.equal(host.preemptive, true, 'a wasm host whose champion runs synchronously is pre-emptive');
  const c = await shapeInput('circle', 3, host.infos[0]!.input);
  const s = await shapeInput('square', 4, host.infos[1]!.input);
  const championAlone = await host.predict(c.input, c.original, 0);
  const shadowAlone = await host.predict(s.input, s.original, 1);
  const tensors = (await host.memory()).numTensors;
  assert.equal(host.interrupts, 0, 'nothing interrupted while the host was idle');

  const order: string[] = [];
  const shadowSent = performance.now();
  const shadow = host.predict(s.input, s.original, 1).then((r) => (order.push('shadow'), { ...r, wall: (performance.now() - shadowSent) / 1000 }));
  // Sent once the shadow prediction runs: it can only start inside it.
  await host.busyForTest();
  const champion = host.predict(c.input, c.original, 0).then((r) => (order.push('champion'), r));
  const [shadowResult, championResult] = await Promise.all([shadow, champion]);

  assert.deepEqual(order, ['champion', 'shadow'], 'the champion was answered while the shadow prediction was still running');
  assert.equal(host.interrupts, 1, 'it ran between two kernels of the shadow prediction');
  assert.deepEqual(championResult.prediction, championAlone.prediction, 'the same champion prediction as alone');
  assert.deepEqual(shadowResult.prediction, shadowAlone.prediction, 'the interrupted shadow prediction is unchanged');
  // The shadow's own time excludes the pause: reported + champion's run ≤ what the shadow held the host for ≤ its wall time.
  assert.ok(shadowResult.latencySeconds + championResult.latencySeconds <= shadowResult.wall, `shadow ${shadowResult.latencySeconds} s + champion ${championResult.latencySeconds} s within the shadow's wall time ${shadowResult.wall} s`);
  assert.equal((await host.memory()).numTensors, tensors, 'no tensor left by the nested run');
});

test('under champion pressure a running shadow prediction waits between kernels, still lets champion requests through, and resumes unchanged on release', async (t) => {
  const slow = await writeSlowModelFolder(await tempDir(t));
  const host = await ModelWorker.startMany([{ dir: DEMO_CHAMPION }, { dir: slow }], { backend: 'wasm' });
  t.after(() => host.close());
  const c = await shapeInput('cross', 5, host.infos[0]!.input);
  const s = await shapeInput('stripes', 6, host.infos[1]!.input);
  const championAlone = await host.predict(c.input, c.original, 0);
  const shadowAlone = await host.predict(s.input, s.original, 1);

  let settled = false;
  const sent = performance.now();
  const shadow = host.predict(s.input, s.original, 1).then((r) => ((settled = true), { ...r, wall: (performance.now() - sent) / 1000 }));
  await host.busyForTest();
  host.pressure(true);
  await host.waitedBeyondForTest(0);
  const waitingSince = performance.now();
  // The shadow is blocked between two kernels: a turn of the event loop and a champion request later, it has not finished.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const champion = await host.predict(c.input, c.original, 0);
  assert.equal(settled, false, 'the shadow prediction waits while the pressure is held');
  assert.deepEqual(champion.prediction, championAlone.prediction, 'a champion request runs inside the wait');
  // Read before the release: the shadow is still waiting at this instant.
  const released = performance.now();
  host.pressure(false);
  const result = await shadow;
  assert.deepEqual(result.prediction, shadowAlone.prediction, 'the same prediction as without pressure');
  assert.ok(result.latencySeconds <= result.wall - (released - waitingSince) / 1000, `latency ${result.latencySeconds} s within wall ${result.wall} s minus the wait`);
});
