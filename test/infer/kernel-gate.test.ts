/** Champion pressure on a real wasm shadow host: its kernels wait while it is held, and the wait is not counted as the shadow's latency. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChampionPressure } from '../../src/infer/kernel-gate.js';
import { ModelWorker } from '../../src/infer/model-worker.js';
import { DEMO_SHADOW, shapeInput } from '../helpers/models.js';

test('a shadow host waits between kernels while the champion pressure is held, resumes when released, and reports its own time only', async (t) => {
  const pressure = new ChampionPressure();
  const host = await ModelWorker.startMany([{ dir: DEMO_SHADOW }], { backend: 'wasm', yieldTo: pressure.buffer });
  t.after(() => host.close());
  const { input, original } = await shapeInput('square', 4, host.info.input);
  const free = await host.predict(input, original, 0);
  assert.equal(pressure.pauses, 0, 'nothing held: no pause');

  pressure.set(true);
  const submitted = performance.now();
  let settled = false;
  const held = host.predict(input, original, 0).finally(() => (settled = true));
  await pressure.pausedBeyond(0);
  const waitingSince = performance.now();
  // The host is blocked inside a kernel's gate: let the event loop turn and check it did not finish.
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'the prediction waits while the pressure is held');
  // Read before the release: the host is still blocked at this instant.
  const released = performance.now();
  pressure.set(false);
  const result = await held;
  const wall = (performance.now() - submitted) / 1000;
  assert.deepEqual(result.prediction, free.prediction, 'the same prediction as without pressure');
  // The host was blocked at least from waitingSince to released; that time is not its latency.
  assert.ok(result.latencySeconds <= wall - (released - waitingSince) / 1000, `latency ${result.latencySeconds} s within wall ${wall} s minus the pause`);
  assert.ok(pressure.pauses >= 1);
});
