/** Finding the deployment when the platform is away: the cached copy is read back safely, and background retries never give up. */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Agent } from '../../src/agent.js';
import { agentConfigSchema } from '../../src/config/schema.js';
import { runCli } from '../helpers/cli.js';
import { startFakePicsellia } from '../helpers/fake-picsellia.js';
import { tempDir, writeJpeg } from '../helpers/images.js';

const MODELS = new URL('../../models/', import.meta.url).pathname;

test('a corrupt cached deployment with the platform unreachable: exit 2 with EW_STORE_CORRUPT, not an unexpected error', async (t) => {
  const dir = await tempDir(t);
  const inbox = join(dir, 'inbox');
  const stateDir = join(dir, 'state');
  await mkdir(inbox);
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  const args = (host: string) => [
    'run', '--once', '--watch', inbox, '--champion', join(MODELS, 'demo-champion'),
    '--host', host, '--organization', fake.state.organization.name, '--deployment', fake.state.deployment.name,
    '--state-dir', stateDir, '--retry-base-ms', '5', '--retry-max-ms', '20', '--request-timeout-ms', '2000', '--log-format', 'json',
  ];
  const env = { PICSELLIA_API_TOKEN: fake.apiToken };
  const first = await runCli(args(fake.url), env);
  assert.equal(first.code, 0, first.err);
  const url = fake.url;
  await fake.close();

  // The platform is gone: the cached copy is used (the offline start keeps working).
  const offline = await runCli(args(url), env);
  assert.equal(offline.code, 0, offline.err);
  assert.match(offline.err, /using the deployment cached from the last run/);

  for (const broken of ['{"organizationId": "o", "deploym', JSON.stringify({ deploymentId: 'd', type: 'CLASSIFICATION' })]) {
    const db = new Database(join(stateDir, 'edgewatch.db'));
    const changed = db.prepare("UPDATE meta SET value = ? WHERE key LIKE 'target%'").run(broken).changes;
    db.close();
    assert.equal(changed, 1, 'the cache row exists');
    const run = await runCli(args(url), env);
    assert.equal(run.code, 2, run.err);
    assert.match(run.err, /edgewatch: EW_STORE_CORRUPT: .*--state-dir/);
    assert.doesNotMatch(run.err, /unexpected error/);
  }
});

test('background resolution keeps retrying after a failure the user fixes on the platform (deployment not found, then created)', async (t) => {
  const dir = await tempDir(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  await writeJpeg(inbox, 'frame.jpg', { width: 160, height: 120 });
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  // Start: the platform cannot be reached (transient). First retry: the deployment does not exist
  // (not transient). It is "created" right after: the next retry must find it.
  fake.script('ping', { drop: true });
  fake.script('deploymentsFind', { status: 404, body: { message: 'deployment not found' } });
  const config = agentConfigSchema.parse({
    watch: [inbox],
    champion: join(MODELS, 'demo-champion'),
    host: fake.url, apiToken: fake.apiToken, organization: fake.state.organization.name, deployment: fake.state.deployment.name,
    stateDir: join(dir, 'state'), stableMs: 20, retryBaseMs: 5, retryMaxMs: 20,
  });
  const agent = await Agent.start(config);
  t.after(() => agent.close());
  const target = () => agent.target;
  assert.equal(target(), undefined, 'started offline');
  await fake.waitFor(() => fake.predictions.length === 1, 20_000);
  assert.equal(fake.requests.filter((r) => r.kind === 'deploymentsFind' && r.status === 404).length, 1, 'the 404 was seen');
  assert.equal(target()?.deploymentName, fake.state.deployment.name);
  assert.deepEqual(fake.violations, []);
});
