/** Fault test "flood": 2,000 small images dropped at once into a watched folder; none is lost and memory stays bounded. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnAgent } from '../helpers/agent-child.js';
import { agentArgs, distinctJpegs, startService, tempFolder, waitUntil } from '../helpers/service.js';

const FILES = 2_000;

test(`flood: ${FILES} files dropped at once are all monitored, once each, with bounded memory`, { timeout: 150_000 }, async (t) => {
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const service = await startService(t);
  const images = await distinctJpegs(FILES, { width: 32, height: 32 });

  // A lag bound above the flood: every shadow is kept (deferred ones go out late), so the test can wait for all of them.
  const child = spawnAgent(agentArgs({ host: service.url, inbox, stateDir: join(dir, 'state') }, ['--send-concurrency', '4', '--shadow-max-lag', String(FILES * 2)]), { PICSELLIA_API_TOKEN: service.token });
  t.after(() => child.kill());
  await child.waitForLog((l) => l.msg === 'watching', 60_000);

  const dropStarted = Date.now();
  for (let i = 0; i < FILES; i += 200) {
    await Promise.all(images.slice(i, i + 200).map((bytes, j) => writeFile(join(inbox, `flood-${String(i + j).padStart(4, '0')}.jpg`), bytes)));
  }
  await waitUntil(() => service.count() >= FILES, 120_000, `${FILES} stored predictions`, () => `${service.count()} stored`, 100);
  const drainMs = Date.now() - dropStarted;
  // Shadows that fell behind arrive as late shadows after their champion's prediction.
  await waitUntil(() => service.countWithShadow() >= FILES, 120_000, `${FILES} predictions with their shadow`, () => `${service.countWithShadow()} with a shadow`, 100);

  assert.equal(await child.kill('SIGTERM'), 0, child.output.err.slice(-2000));
  const stopped = child.logs.find((l) => l.msg === 'stopped');
  assert.ok(stopped, 'the agent logged its stop line');
  const rows = service.predictions();
  assert.equal(rows.length, FILES, 'none lost, none twice');
  assert.equal(new Set(rows.map((r) => r.imageId)).size, FILES, 'one prediction per image');
  assert.equal(new Set(rows.map((r) => r.filename)).size, FILES, 'every file name present');
  assert.equal(stopped.pending, 0);
  assert.equal(stopped.failed, 0);
  const peakRssMb = stopped.peakRssMb as number;
  assert.ok(peakRssMb > 0 && peakRssMb < 1_536, `peak RSS ${peakRssMb} MB stays under 1.5 GB`);
  t.diagnostic(`flood: ${FILES} dropped, ${rows.length} stored, ${FILES - new Set(rows.map((r) => r.imageId)).size} duplicates, 0 lost; monitored ${String(stopped.monitored)}, already monitored (409) ${String(stopped.alreadyMonitored)}; agent peak RSS ${peakRssMb} MB; drained in ${drainMs} ms`);
});
