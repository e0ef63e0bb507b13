/** Late shadows reach the result sinks: a follow-up record (`edgewatch.late-shadow/1`) per deferred shadow, queued with its late-shadow call; the sidecar merges it. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Agent } from '../../src/agent.js';
import type { AgentConfigInput } from '../../src/config/schema.js';
import { mergeSidecar } from '../../src/sinks/sidecar-sink.js';
import type { LateShadowRecord, SinkRecord } from '../../src/sinks/record.js';
import { setUpSlowShadow } from '../helpers/slow-shadow.js';

type AnyRecord = SinkRecord | LateShadowRecord;

/** `setUpSlowShadow` with JSONL and sidecar sinks. */
async function setUp(t: TestContext, n: number) {
  const { dir, fake, config } = await setUpSlowShadow(t, n);
  const jsonl = join(dir, 'out', 'predictions.jsonl');
  const results = join(dir, 'results');
  return { fake, config: (extra: Partial<AgentConfigInput> = {}) => config({ sinkJsonl: jsonl, sinkSidecar: results, ...extra }), jsonl, results };
}

async function lines(path: string): Promise<AnyRecord[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AnyRecord);
}

test('a slow shadow: each late shadow follows its image\'s record in the JSONL, with the prediction monitored; sidecars end with both', async (t) => {
  const n = 6;
  const { fake, config, jsonl, results } = await setUp(t, n);
  const agent = await Agent.start(config());
  t.after(() => agent.close());
  const summary = await agent.runOnce();
  assert.deepEqual(fake.violations, []);
  assert.equal(fake.predictions.length, n);
  const late = fake.predictions.filter((p) => p.lateShadow !== null);
  assert.ok(late.length >= 1, 'at least one shadow was behind');
  assert.equal(summary.shadowLate, late.length);

  const records = await lines(jsonl);
  const images = records.filter((r): r is SinkRecord => r.schema === 'edgewatch.prediction/1');
  const followUps = records.filter((r): r is LateShadowRecord => r.schema === 'edgewatch.late-shadow/1');
  assert.equal(images.length, n, 'one record per image');
  assert.equal(followUps.length, late.length, 'one follow-up per late shadow');
  assert.equal(new Set(followUps.map((r) => r.imageId)).size, followUps.length);
  for (const image of images) {
    const followUp = followUps.find((r) => r.imageId === image.imageId);
    assert.ok((image.shadow === undefined) === (followUp !== undefined), `${image.filename}: the shadow is in its record, or in a follow-up, exactly once`);
  }
  for (const followUp of followUps) {
    const monitored = late.find((p) => p.imageId === followUp.imageId);
    assert.ok(monitored, 'the follow-up names an image whose late shadow was monitored');
    const sent = monitored.lateShadow as { shadow_raw_predictions: { detection_classes: number[]; detection_scores: number[] }; shadow_latency: number };
    assert.deepEqual(followUp.shadow.results.map((r) => r.classId), sent.shadow_raw_predictions.detection_classes);
    assert.deepEqual(followUp.shadow.results.map((r) => r.score), sent.shadow_raw_predictions.detection_scores);
    assert.equal(followUp.shadow.latencySeconds, sent.shadow_latency);
    assert.ok(followUp.shadow.results.every((r) => ['a', 'b', 'c'].includes(r.label ?? '')), 'the slow shadow\'s labels');
    assert.equal(followUp.shadow.version.length, 64, 'the version of the shadow that ran');
    assert.equal(followUp.deployment, fake.state.deployment.name);
    const image = images.find((r) => r.imageId === followUp.imageId) as SinkRecord;
    assert.equal(followUp.path, image.path);
    assert.equal(followUp.capturedAt, image.capturedAt);
    assert.ok(records.indexOf(followUp) > records.indexOf(image), 'after the image\'s record');
  }
  // Every sidecar ends with the shadow's output, in time or merged late.
  const files = (await readdir(results)).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, n);
  for (const f of files) {
    const sidecar = JSON.parse(await readFile(join(results, f), 'utf8')) as SinkRecord;
    assert.equal(sidecar.schema, 'edgewatch.prediction/1');
    assert.ok(sidecar.shadow, `${f} has the shadow's output`);
    const followUp = followUps.find((r) => r.imageId === sidecar.imageId);
    if (followUp) assert.deepEqual(sidecar.shadow, followUp.shadow);
  }
  assert.deepEqual(agent.sinks?.status().jsonl, { pending: 0, dead: 0, delivered: n + late.length, dropped: 0 });
});

test('across a restart: shadow work left pending reaches the sinks from the next run; every image ends with its shadow exactly once', async (t) => {
  const n = 6;
  const { fake, config, jsonl } = await setUp(t, n);
  const first = await Agent.start(config({ once: false }));
  await fake.waitFor(() => fake.predictions.length === n, 60_000);
  await first.close();
  const leftOver = n - fake.predictions.filter((p) => 'shadow_raw_predictions' in p.body || p.lateShadow !== null).length;
  assert.ok(leftOver >= 1, 'some shadow work was still pending at the stop');

  const second = await Agent.start(config());
  t.after(() => second.close());
  const summary = await second.runOnce();
  assert.equal(summary.shadowLate, leftOver);
  const records = await lines(jsonl);
  const images = records.filter((r): r is SinkRecord => r.schema === 'edgewatch.prediction/1');
  const followUps = records.filter((r): r is LateShadowRecord => r.schema === 'edgewatch.late-shadow/1');
  assert.equal(images.length, n);
  assert.equal(followUps.length, fake.predictions.filter((p) => p.lateShadow !== null).length);
  for (const image of images) {
    const shadows = (image.shadow ? 1 : 0) + followUps.filter((r) => r.imageId === image.imageId).length;
    assert.equal(shadows, 1, `${image.filename}: its shadow once, in its record or a follow-up`);
  }
});

test('mergeSidecar: a late shadow joins the record; the record written again (or after it) keeps it', () => {
  const base = { imageId: 'img-1', path: '/in/a.jpg', filename: 'a.jpg', capturedAt: 1, deployment: 'demo' };
  const shadow = { name: 's', version: 'v', task: 'CLASSIFICATION' as const, latencySeconds: 0.5, results: [{ classId: 1, label: 'b', score: 0.9 }] };
  const record: SinkRecord = { schema: 'edgewatch.prediction/1', ...base, predictedAt: 2, width: 4, height: 3, champion: { ...shadow, name: 'c' }, monitoring: { sent: true, probability: 1, policy: 'all' } };
  const followUp: LateShadowRecord = { schema: 'edgewatch.late-shadow/1', ...base, predictedAt: 3, shadow };
  assert.deepEqual(mergeSidecar(record, followUp), { ...record, shadow });
  assert.deepEqual(mergeSidecar(undefined, followUp), followUp, 'alone, the follow-up is written as it is');
  assert.deepEqual(mergeSidecar(followUp, record), { ...record, shadow }, 'the record after its follow-up keeps the shadow');
  assert.deepEqual(mergeSidecar({ ...record, shadow }, record), { ...record, shadow }, 'a record delivered twice does not lose the merged shadow');
  const inTime = { ...record, shadow: { ...shadow, name: 'in-time' } };
  assert.deepEqual(mergeSidecar({ ...record, shadow }, inTime), inTime);
});
