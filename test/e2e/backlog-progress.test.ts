/** Start-up backlog: a progress bar on a TTY, progress lines otherwise, and every file processed. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { agentConfigSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { startFakePicsellia } from '../helpers/fake-picsellia.js';
import { tempDir, writeJpeg } from '../helpers/images.js';

const MODELS = new URL('../../models/', import.meta.url).pathname;

test('a backlog of 40 files draws a progress bar on a TTY and logs "backlog processed"', async (t) => {
  const dir = await tempDir(t);
  const inbox = join(dir, 'inbox');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(inbox);
  for (let i = 0; i < 40; i++) await writeJpeg(inbox, `f${i}.jpg`, { width: 64 + i, height: 48 });
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  const bar: string[] = [];
  const tty = Object.assign(new Writable({ write: (c, _e, cb) => (bar.push(String(c)), cb()) }), { isTTY: true });
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', format: 'json', destination: new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }) });
  const config = agentConfigSchema.parse({
    watch: [inbox], champion: join(MODELS, 'demo-champion'), host: fake.url, apiToken: fake.apiToken,
    organization: fake.state.organization.name, deployment: fake.state.deployment.name, stateDir: join(dir, 'state'), once: true, stableMs: 10,
  });
  const agent = await Agent.start(config, { logger, progressStream: tty });
  const summary = await agent.runOnce();
  await agent.close();
  assert.equal(summary.monitored, 40);
  assert.equal(fake.predictions.length, 40);
  const processed = logs.map((l) => JSON.parse(l)).find((r) => r.msg === 'backlog processed');
  assert.ok(processed, 'backlog processed logged');
  assert.equal(processed.total, 40);
  assert.equal(processed.done, 40);
  assert.match(bar.join(''), /\r\[#+\] 40\/40/);
});
