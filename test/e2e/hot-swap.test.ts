/** Hot swap against the Picsellia stand-in: a promotion is followed within --model-poll-s, without restart, loss or duplicate; a broken version keeps the old models and is not retried in a loop; the shadow stops and starts; a local folder is re-read on reload. */
import assert from 'node:assert/strict';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { Agent } from '../../src/agent.js';
import { agentConfigSchema, type AgentConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { startFakePicsellia, type FakePicsellia, type StoredPrediction } from '../helpers/fake-picsellia.js';
import { jpegBytes, tempDir } from '../helpers/images.js';
import { zipFolder, zipOf } from '../helpers/model-zips.js';
import { DEMO_CHAMPION, DEMO_SHADOW, writeSlowModelFolder } from '../helpers/models.js';
import { waitUntil } from '../helpers/service.js';

interface Named {
  name: string;
  hash: string;
  modelVersionId?: string;
}
const meta = (p: StoredPrediction) => (p.body.custom_metadata as { edgewatch: { champion: Named; shadow?: Named } }).edgewatch;

async function startAgent(t: TestContext, fake: FakePicsellia, dir: string, extra: Partial<AgentConfigInput> = {}) {
  const inbox = join(dir, 'inbox');
  await mkdir(inbox, { recursive: true });
  const lines: Record<string, unknown>[] = [];
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const config = agentConfigSchema.parse({
    watch: [inbox],
    champion: 'deployment',
    shadow: 'deployment',
    modelPollS: 0.2,
    host: fake.url,
    apiToken: fake.apiToken,
    deployment: fake.state.deployment.name,
    stateDir: join(dir, 'state'),
    workers: 1,
    ...extra,
  });
  const agent = await Agent.start(config, { logger: createLogger({ level: 'info', format: 'json', destination }) });
  t.after(() => agent.close());
  let n = 0;
  const drop = async (count: number) => {
    for (let i = 0; i < count; i++) {
      n += 1;
      await writeFile(join(inbox, `img-${n}.jpg`), await jpegBytes({ width: 64 + n, height: 48 }));
    }
    return n;
  };
  return { agent, drop, lines, inbox };
}

async function twoVersions(fake: FakePicsellia): Promise<{ v1: string; v2: string }> {
  const v1 = fake.registry.addVersion({ model: 'shapes', name: 'v1', zip: await zipFolder(DEMO_CHAMPION) });
  const v2 = fake.registry.addVersion({ model: 'shapes', name: 'v2', zip: await zipFolder(DEMO_SHADOW) });
  fake.state.deployment.modelVersionId = v1;
  fake.state.deployment.shadowModelVersionId = v2;
  return { v1, v2 };
}

test('a promotion is followed within --model-poll-s: the next predictions carry the new modelVersionId, none lost or duplicated, pairs never mixed', async (t) => {
  const dir = await tempDir(t);
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  t.after(() => fake.close());
  const { v1, v2 } = await twoVersions(fake);
  const { agent, drop } = await startAgent(t, fake, dir);
  assert.equal(agent.models.champion?.modelVersionId, v1);
  assert.equal(agent.models.shadow?.modelVersionId, v2);

  await drop(4);
  await fake.waitFor(() => fake.predictions.length === 4, 30_000);
  for (const p of fake.predictions) {
    assert.equal(meta(p).champion.modelVersionId, v1);
    assert.equal(meta(p).shadow?.modelVersionId, v2);
  }

  // Promote the shadow as the SDK does (set_model), empty the shadow slot, while images keep coming.
  const promote = fetch(`${fake.url}/api/deployment/${fake.state.deployment.id}/model`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fake.apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model_version_id: v2 }),
  }).then((r) => r.json());
  const written = drop(6);
  await promote;
  fake.state.deployment.shadowModelVersionId = null;
  const promotedAt = performance.now();
  await written;
  await waitUntil(() => agent.models.champion?.modelVersionId === v2, 30_000, 'the swap');
  const swapMs = performance.now() - promotedAt;
  assert.equal(agent.models.shadow, undefined, 'the shadow removed from the deployment is stopped');
  const before = fake.predictions.length;
  const last = await drop(3);
  await fake.waitFor(() => fake.predictions.length === last, 30_000);
  await agent.close();

  const names = fake.predictions.map((p) => p.body.filename);
  assert.equal(new Set(names).size, last, 'every image exactly once');
  for (const p of fake.predictions.slice(before)) {
    assert.equal(meta(p).champion.modelVersionId, v2, 'after the swap: the new champion');
    assert.equal(meta(p).shadow, undefined);
    assert.ok(!('shadow_raw_predictions' in p.body));
  }
  for (const p of fake.predictions) {
    const m = meta(p);
    // A pair is never mixed: the v1 champion always ran beside the v2 shadow; the v2 champion alone.
    if (m.champion.modelVersionId === v1) assert.equal(m.shadow?.modelVersionId, v2);
    else assert.equal(m.shadow, undefined);
    if (p.lateShadow) assert.equal(m.champion.modelVersionId, v1, 'a late shadow only where a shadow was named');
  }
  assert.deepEqual(fake.violations, []);
  t.diagnostic(`promotion → models swapped in ${Math.round(swapMs)} ms (poll 0.2 s)`);
});

test('a broken version keeps the running models, is logged once with its code and not retried in a loop; the next change is taken', async (t) => {
  const dir = await tempDir(t);
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  t.after(() => fake.close());
  const { v1, v2 } = await twoVersions(fake);
  const { agent, drop, lines } = await startAgent(t, fake, dir);

  // A zip whose shard is cut short: downloads and unpacks, fails to load.
  const broken = fake.registry.addVersion({ model: 'shapes', name: 'broken', zip: await zipFolder(DEMO_SHADOW, { extra: { 'weights.bin': new Uint8Array(100) } }) });
  // A SavedModel: refused at unpack time, with the converter's name.
  const saved = fake.registry.addVersion({ model: 'shapes', name: 'saved', zip: zipOf({ 'saved_model.pb': 'x', 'variables/variables.index': 'y' }) });
  fake.state.deployment.modelVersionId = broken;
  await waitUntil(() => lines.some((l) => l.code === 'EW_MODEL_SWAP_FAILED'), 30_000, 'the failure log');
  const polls = fake.requestsOf('deploymentGet').length;
  await fake.waitFor(() => fake.requestsOf('deploymentGet').length >= polls + 5, 20_000);
  const failures = lines.filter((l) => l.code === 'EW_MODEL_SWAP_FAILED');
  assert.equal(failures.length, 1, 'logged once');
  assert.equal(failures[0]?.cause, 'EW_MODEL_LOAD');
  assert.equal(fake.requestsOf('modelFileFind').filter((r) => r.path.includes(broken)).length, 1, 'not fetched again on every poll');
  assert.equal(agent.models.champion?.modelVersionId, v1, 'the running champion stays');
  assert.equal(agent.models.shadow?.modelVersionId, v2);

  await drop(2);
  await fake.waitFor(() => fake.predictions.length === 2, 30_000);
  assert.ok(fake.predictions.every((p) => meta(p).champion.modelVersionId === v1));

  fake.state.deployment.modelVersionId = saved;
  await waitUntil(() => lines.filter((l) => l.code === 'EW_MODEL_SWAP_FAILED').length === 2, 30_000, 'the second failure');
  assert.equal(lines.filter((l) => l.code === 'EW_MODEL_SWAP_FAILED')[1]?.cause, 'EW_MODEL_NOT_TFJS');

  // The shadow slot emptied, then a shadow added again: it stops, then starts.
  fake.state.deployment.modelVersionId = v1;
  fake.state.deployment.shadowModelVersionId = null;
  await waitUntil(() => agent.models.shadow === undefined, 30_000, 'the shadow stopped');
  fake.state.deployment.shadowModelVersionId = v2;
  await waitUntil(() => agent.models.shadow?.modelVersionId === v2, 30_000, 'the shadow started');
  await drop(1);
  await fake.waitFor(() => fake.predictions.length === 3, 30_000);
  assert.equal(meta(fake.predictions[2]!).shadow?.modelVersionId, v2);
  assert.deepEqual(fake.violations, []);
});

test('a local champion folder changed on disk is swapped in on reload (SIGHUP) without a restart; an unchanged folder is not', async (t) => {
  const dir = await tempDir(t);
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  const modelDir = join(dir, 'champion');
  await cp(DEMO_CHAMPION, modelDir, { recursive: true });
  const { agent, drop } = await startAgent(t, fake, dir, { champion: modelDir, shadow: undefined });
  const firstHash = agent.models.champion?.info.hash;
  assert.equal(await agent.reload(), 'unchanged');

  await drop(1);
  await fake.waitFor(() => fake.predictions.length === 1, 30_000);
  await rm(modelDir, { recursive: true });
  await cp(DEMO_SHADOW, modelDir, { recursive: true });
  assert.equal(await agent.reload(), 'swapped');
  assert.notEqual(agent.models.champion?.info.hash, firstHash);
  await drop(1);
  await fake.waitFor(() => fake.predictions.length === 2, 30_000);
  const [a, b] = fake.predictions.map((p) => meta(p).champion);
  assert.equal(a?.hash, firstHash);
  assert.equal(b?.hash, agent.models.champion?.info.hash);
  assert.equal(b?.modelVersionId, undefined, 'a folder has no model version');

  // A broken folder: the running champion stays.
  await writeFile(join(modelDir, 'model.json'), '{ not json');
  assert.equal(await agent.reload(), 'failed');
  assert.equal(agent.models.champion?.info.hash, b?.hash);
  assert.deepEqual(fake.violations, []);
});

test('restarted while the platform is unreachable, the agent starts with the deployment models of its last run; without them it refuses with a code', async (t) => {
  const dir = await tempDir(t);
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  const { v1, v2 } = await twoVersions(fake);
  const first = await startAgent(t, fake, dir);
  await first.agent.close();
  const url = fake.url;
  await fake.close();

  const config = agentConfigSchema.parse({
    watch: [first.inbox], champion: 'deployment', shadow: 'deployment', host: url, apiToken: 'tok', deployment: 'line-3',
    stateDir: join(dir, 'state'), workers: 1, requestTimeoutMs: 2_000,
  });
  const agent = await Agent.start(config);
  t.after(() => agent.close());
  assert.equal(agent.models.champion?.modelVersionId, v1);
  assert.equal(agent.models.shadow?.modelVersionId, v2);
  await agent.close();

  const fresh = agentConfigSchema.parse({ ...config, stateDir: join(dir, 'other-state') });
  await assert.rejects(Agent.start(fresh), (err: unknown) => (err as { code?: string }).code === 'EW_MODEL_DOWNLOAD' && /start once with the platform reachable/.test((err as Error).message));
});

test('a shadow swapped while its work is behind: every late shadow comes from the shadow its prediction names', async (t) => {
  const dir = await tempDir(t);
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  t.after(() => fake.close());
  // The slow shadow has 7 classes, the demo shadow 5: with --top-k 7 a prediction shows which model made it.
  const slowDir = join(dir, 'slow');
  await mkdir(slowDir);
  await writeSlowModelFolder(slowDir, ['a', 'b', 'c', 'd', 'e', 'f', 'g'], 224, 3, 48);
  const v1 = fake.registry.addVersion({ model: 'shapes', zip: await zipFolder(DEMO_CHAMPION) });
  const slow = fake.registry.addVersion({ model: 'slow', zip: await zipFolder(slowDir) });
  const quick = fake.registry.addVersion({ model: 'shapes', zip: await zipFolder(DEMO_SHADOW) });
  fake.state.deployment.modelVersionId = v1;
  fake.state.deployment.shadowModelVersionId = slow;
  const { agent, drop } = await startAgent(t, fake, dir, { topK: 7 });
  assert.equal(agent.models.shadow?.modelVersionId, slow);
  await drop(12);
  await fake.waitFor(() => fake.predictions.length >= 4, 60_000);
  fake.state.deployment.shadowModelVersionId = quick;
  await waitUntil(() => agent.models.shadow?.modelVersionId === quick, 60_000, 'the shadow swap');
  const count = await drop(2);
  await fake.waitFor(() => fake.predictions.length === count, 60_000);
  await agent.close();

  const classesOf = (p: unknown) => (p as { detection_classes: number[] }).detection_classes.length;
  for (const p of fake.predictions) {
    const named = meta(p).shadow?.modelVersionId;
    const shadow = p.body.shadow_raw_predictions ?? p.lateShadow?.shadow_raw_predictions;
    if (shadow === undefined) continue; // shed (behind when its shadow was swapped out)
    assert.equal(classesOf(shadow), named === slow ? 7 : 5, `${String(p.body.filename)}: the shadow prediction comes from the shadow it names`);
  }
  assert.ok(fake.predictions.some((p) => meta(p).shadow?.modelVersionId === quick), 'the new shadow ran');
  const late = fake.predictions.filter((p) => p.lateShadow).length;
  const missing = fake.predictions.filter((p) => meta(p).shadow && !p.lateShadow && !('shadow_raw_predictions' in p.body)).length;
  t.diagnostic(`${late} late shadows (each from the shadow its prediction names), ${missing} shadow predictions shed or not sent before close`);
  assert.equal(new Set(fake.predictions.map((p) => p.body.filename)).size, count, 'every image once');
  assert.deepEqual(fake.violations, []);
});
