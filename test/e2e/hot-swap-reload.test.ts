/** `edgewatch reload` and SIGHUP on a real agent process: a changed local champion folder is swapped in without a restart; reload without a running agent is EW_RELOAD_NO_AGENT. */
import assert from 'node:assert/strict';
import { access, cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnAgent } from '../helpers/agent-child.js';
import { runCli } from '../helpers/cli.js';
import { startFakePicsellia } from '../helpers/fake-picsellia.js';
import { jpegBytes, tempDir } from '../helpers/images.js';
import { DEMO_CHAMPION, DEMO_SHADOW } from '../helpers/models.js';

const championOf = (body: Record<string, unknown>) => (body.custom_metadata as { edgewatch: { champion: { name: string; hash: string } } }).edgewatch.champion;

test('edgewatch reload (and SIGHUP) make the running agent swap in a changed model folder', async (t) => {
  const dir = await tempDir(t);
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  const inbox = join(dir, 'inbox');
  const stateDir = join(dir, 'state');
  const modelDir = join(dir, 'champion');
  await mkdir(inbox);
  await cp(DEMO_CHAMPION, modelDir, { recursive: true });

  const none = await runCli(['reload', '--state-dir', stateDir]);
  assert.equal(none.code, 2);
  assert.match(none.err, /EW_RELOAD_NO_AGENT: No running agent found for state folder/);

  const child = spawnAgent(
    ['run', '--watch', inbox, '--champion', modelDir, '--host', fake.url, '--deployment', fake.state.deployment.name, '--state-dir', stateDir, '--workers', '1', '--log-format', 'json'],
    { PICSELLIA_API_TOKEN: fake.apiToken },
  );
  t.after(() => child.kill());
  await child.waitForLog((l) => l.msg === 'watching', 60_000);
  await access(join(stateDir, 'agent.pid'));

  await writeFile(join(inbox, 'a.jpg'), await jpegBytes({ width: 90, height: 60 }));
  await fake.waitFor(() => fake.predictions.length === 1, 30_000);
  const before = championOf(fake.predictions[0]!.body);

  await rm(modelDir, { recursive: true });
  await cp(DEMO_SHADOW, modelDir, { recursive: true });
  const reloaded = await runCli(['reload', '--state-dir', stateDir]);
  assert.equal(reloaded.code, 0, reloaded.err);
  assert.match(reloaded.out, new RegExp(`pid ${child.pid}`));
  await child.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('models swapped'), 60_000);
  await writeFile(join(inbox, 'b.jpg'), await jpegBytes({ width: 91, height: 60 }));
  await fake.waitFor(() => fake.predictions.length === 2, 30_000);
  const after = championOf(fake.predictions[1]!.body);
  assert.notEqual(after.hash, before.hash);
  assert.equal(after.name, 'demo-shadow');

  // A plain SIGHUP with nothing changed: re-read, not swapped, the agent keeps running.
  child.process.kill('SIGHUP');
  await child.waitForLog((l) => l.msg === 'SIGHUP: re-reading the models', 30_000);
  assert.equal(child.done, false);

  assert.equal(await child.kill('SIGTERM'), 0);
  await assert.rejects(access(join(stateDir, 'agent.pid')), 'the pid file is removed at exit');
  assert.equal(child.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('models swapped')).length, 1);
  assert.deepEqual(fake.violations, []);
});
