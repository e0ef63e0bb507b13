/** Watch mode end to end: a camera writing slowly is never read half-written (nor rejected), files dropped while running are monitored, close is clean. */
import assert from 'node:assert/strict';
import { appendFile, mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { agentConfigSchema } from '../../src/config/schema.js';
import type { ProcessOutcome } from '../../src/pipeline/process-image.js';
import { startFakePicsellia } from '../helpers/fake-picsellia.js';
import { jpegBytes, tempDir } from '../helpers/images.js';

const MODELS = new URL('../../models/', import.meta.url).pathname;

test('watch mode: slow writer, rename-in, and new files are each monitored exactly once', async (t) => {
  const dir = await tempDir(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  const outcomes: { outcome: ProcessOutcome; path: string }[] = [];
  let onOutcome: () => void = () => undefined;
  const config = agentConfigSchema.parse({
    watch: [{ path: inbox, source: 'camera-7', tags: ['line-3', 'night'] }],
    champion: join(MODELS, 'demo-champion'), shadow: join(MODELS, 'demo-shadow'),
    host: fake.url, apiToken: fake.apiToken, organization: fake.state.organization.name, deployment: fake.state.deployment.name,
    stateDir: join(dir, 'state'), stableMs: 100,
  });
  const agent = await Agent.start(config, {
    onOutcome: (outcome, path) => {
      outcomes.push({ outcome, path });
      onOutcome();
    },
  });
  t.after(() => agent.close());
  const nextOutcome = () => new Promise<void>((resolve) => (onOutcome = resolve));

  // A camera writes the first part of a frame, pauses, then the rest.
  const frame = await jpegBytes({ width: 320, height: 240 });
  const slow = join(inbox, 'slow.jpg');
  const seen = nextOutcome();
  await writeFile(slow, frame.subarray(0, 2000));
  await seen;
  assert.deepEqual(outcomes.map((o) => o.outcome), ['changed'], 'the partial frame is not accepted, not rejected');
  await appendFile(slow, frame.subarray(2000));
  await fake.waitFor(() => fake.predictions.length === 1, 20_000);

  // A file copied under a temporary name and renamed in.
  await writeFile(join(inbox, '.copy.jpg.part'), await jpegBytes({ width: 200, height: 100 }));
  await rename(join(inbox, '.copy.jpg.part'), join(inbox, 'copied.jpg'));
  await writeFile(join(inbox, 'direct.jpg'), await jpegBytes({ width: 100, height: 200 }));
  await fake.waitFor(() => fake.predictions.length === 3, 20_000);
  await agent.close();

  assert.deepEqual(fake.violations, []);
  const names = fake.predictions.map((p) => p.body.filename).sort();
  assert.deepEqual(names, ['copied.jpg', 'direct.jpg', 'slow.jpg']);
  const slowBody = fake.predictions.find((p) => p.body.filename === 'slow.jpg');
  assert.deepEqual(slowBody?.image, frame, 'the complete frame was sent');
  assert.equal(slowBody?.body.source, 'camera-7');
  assert.deepEqual(slowBody?.body.tags, ['line-3', 'night']);
  assert.ok(!(await readdir(inbox)).includes('rejected'), 'nothing rejected');
  assert.equal(outcomes.filter((o) => o.outcome === 'rejected').length, 0);
});
