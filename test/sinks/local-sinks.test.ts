/** Sidecar and JSONL sinks end to end (exactly the champion's predictions, with the image id) and their parts: rotation, backlog bound, retries and dead letters. */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { agentArgs, distinctJpegs, inboxOfJpegs, startAgent, startService, stateDbQuery, tempFolder, waitUntil } from '../helpers/service.js';
import { silentLogger } from '../../src/log.js';
import { JsonlSink } from '../../src/sinks/jsonl-sink.js';
import type { LateShadowRecord, SinkRecord } from '../../src/sinks/record.js';
import type { DeliveryOutcome, SinkTarget } from '../../src/sinks/sink.js';
import { SinkLoop } from '../../src/sinks/sink-loop.js';
import { SinkQueue } from '../../src/state/sink-queue.js';
import { openStateDb } from '../../src/state/state-db.js';
import { jsonlLines, jsonlRecords, rawOf, storedByImageId } from './stored.js';

test('sidecar and JSONL sinks receive exactly the champion prediction of every monitored image, with its image id', async (t) => {
  const service = await startService(t);
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const images = await distinctJpegs(6);
  for (const [i, bytes] of images.entries()) await writeFile(join(inbox, `img-${i}.jpg`), bytes);
  await writeFile(join(inbox, 'broken.jpg'), images[0]?.subarray(0, 100) as Buffer);
  const jsonl = join(dir, 'out', 'predictions.jsonl');
  const results = join(dir, 'results');
  const { agent } = await startAgent(t, agentArgs({ host: service.url, inbox, stateDir: join(dir, 'state') }, ['--once', '--sink-jsonl', jsonl, '--sink-sidecar', results]), {
    PICSELLIA_API_TOKEN: service.token,
  });
  const summary = await agent.runOnce();
  assert.equal(summary.monitored, 6);
  assert.equal(summary.rejected, 1);
  // A shadow that fell behind adds a follow-up record (README "Result sinks"): one per late shadow.
  const followUps = summary.shadowLate;
  const status = agent.sinks?.status();
  assert.deepEqual(status?.jsonl, { pending: 0, dead: 0, delivered: 6 + followUps, dropped: 0 });
  assert.deepEqual(status?.sidecar, { pending: 0, dead: 0, delivered: 6 + followUps, dropped: 0 });

  const stored = storedByImageId(service.dataDir);
  const all = await jsonlLines(jsonl);
  const lines = await jsonlRecords(jsonl);
  assert.equal(lines.length, 6, 'one line per image, none for the rejected file');
  assert.equal(all.length, 6 + followUps);
  const sidecars = (await readdir(results)).filter((f) => f.endsWith('.json'));
  assert.equal(sidecars.length, 6);
  for (const record of lines) {
    assert.equal(record.schema, 'edgewatch.prediction/1');
    assert.equal(record.deployment, 'demo');
    assert.ok(record.path.startsWith(inbox) && record.filename.startsWith('img-'));
    const s = stored.get(record.imageId);
    assert.ok(s, `${record.filename}: the record's image id is the stored prediction's`);
    assert.deepEqual(rawOf(record), { classes: s.champion.detection_classes, scores: s.champion.detection_scores }, 'the champion prediction, as monitored');
    assert.equal(record.champion.results[0]?.label !== null, true, 'labels resolved');
    assert.equal(record.champion.version.length, 64, 'the champion version is its content hash');
    assert.deepEqual(record.monitoring, { sent: true, probability: 1, policy: 'all' });
    const sidecar = JSON.parse(await readFile(join(results, `${record.filename}.${record.imageId.slice(0, 12)}.json`), 'utf8')) as SinkRecord;
    const late = all.find((r): r is LateShadowRecord => r.schema === 'edgewatch.late-shadow/1' && r.imageId === record.imageId);
    assert.deepEqual(sidecar, late ? { ...record, shadow: late.shadow } : record, 'the sidecar holds the same record (with its late shadow merged)');
  }
  await agent.close();
  // Nothing is left queued in the state database.
  assert.equal(stateDbQuery(join(dir, 'state'), (db) => (db.prepare('SELECT COUNT(*) AS n FROM sink_pending').get() as { n: number }).n), 0);
});

test('sidecar beside the image with afterDelivery move, bad sample policies and sink URLs: EW_CONFIG_INVALID', async (t) => {
  const dir = await tempFolder(t);
  const base = ['run', '--watch', dir, '--champion', dir, '--deployment', 'd', '--host', 'http://127.0.0.1:9'];
  const cases: [string[], RegExp][] = [
    [['--sink-sidecar', 'beside', '--after-delivery', 'move'], /sinkSidecar \(--sink-sidecar.*left behind/],
    [['--sample', 'rate=1.5'], /sample \(--sample.*rate=1\.5: the rate must be a probability/],
    [['--sample', 'sometimes'], /sample \(--sample.*unknown term "sometimes"/],
    [['--sample', 'cap=0'], /sample \(--sample.*cap must be at least 1/],
    [['--sink-mqtt', 'http://127.0.0.1:1883'], /sinkMqtt \(--sink-mqtt/],
    [['--sink-webhook', 'ftp://127.0.0.1/x'], /sinkWebhook \(--sink-webhook/],
    [['--strip-metadata', 'exif'], /stripMetadata \(--strip-metadata.*one of: gps, all, none/],
  ];
  for (const [extra, message] of cases) {
    const run = await runCli([...base, ...extra], { PICSELLIA_API_TOKEN: 'secret-token' });
    assert.equal(run.code, 2, extra.join(' '));
    assert.match(run.err, /EW_CONFIG_INVALID/, extra.join(' '));
    assert.match(run.err, message, extra.join(' '));
  }
});

/** Rows of the fake records a unit test queues. */
function row(i: number): { imageId: string; record: string; attempts: number } {
  return { imageId: `img-${String(i).padStart(4, '0')}`, record: JSON.stringify({ imageId: `img-${i}`, pad: 'x'.repeat(80) }), attempts: 0 };
}

test('JSONL rotation: files stay under maxBytes, at most maxFiles rotated ones, no line torn, newest records kept', async (t) => {
  const dir = await tempFolder(t);
  const path = join(dir, 'p.jsonl');
  const sink = new JsonlSink({ path, maxBytes: 1024, maxFiles: 2 });
  for (let batch = 0; batch < 10; batch += 1) {
    const outcomes = await sink.deliver(Array.from({ length: 7 }, (_, i) => row(batch * 7 + i)));
    assert.ok(outcomes.every((o) => o.kind === 'delivered'));
  }
  const files = (await readdir(dir)).sort();
  assert.deepEqual(files, ['p.jsonl', 'p.jsonl.1', 'p.jsonl.2']);
  const all: string[] = [];
  for (const f of ['p.jsonl.2', 'p.jsonl.1', 'p.jsonl']) {
    assert.ok((await stat(join(dir, f))).size <= 1024, `${f} under maxBytes`);
    all.push(...(await jsonlLines(join(dir, f))).map((r) => (r as unknown as { imageId: string }).imageId));
  }
  assert.equal(all.at(-1), 'img-69', 'the newest record is in the current file');
  const numbers = all.map((id) => Number(id.slice(4)));
  assert.deepEqual(numbers, numbers.slice().sort((a, b) => a - b), 'in order across files');
  assert.equal(numbers.at(-1)! - numbers[0]! + 1, numbers.length, 'contiguous: only the oldest went');
});

test('sink queue: bounded per sink (oldest dropped and counted), retries with backoff, dead letter after maxAttempts', async (t) => {
  const dir = await tempFolder(t);
  const db = openStateDb(dir);
  t.after(() => db.close());
  const queue = new SinkQueue(db, ['a', 'b'], 3);
  const dropped = [0, 1, 2, 3, 4].map((i) => db.transaction(() => queue.add(`img-${i}`, `{"i":${i}}`))());
  assert.deepEqual(dropped.map((m) => m.get('a') ?? 0), [0, 0, 0, 1, 1]);
  assert.deepEqual(queue.due('a', 10).map((r) => r.imageId), ['img-2', 'img-3', 'img-4'], 'oldest dropped');
  assert.deepEqual(queue.counts('b'), { pending: 3, dead: 0 });
  assert.equal(queue.add('img-4', '{}').size, 0, 'idempotent per image id');

  let calls = 0;
  const failing: SinkTarget = {
    name: 'a',
    batchSize: 10,
    deliver: async (rows) => {
      calls += 1;
      return rows.map((): DeliveryOutcome => ({ kind: 'retry', code: 'EW_SINK_HTTP', message: 'down' }));
    },
    close: async () => undefined,
  };
  const loop = new SinkLoop({ queue, target: failing, backoffMs: () => 0, maxAttempts: 3, logger: silentLogger() });
  loop.start();
  t.after(() => loop.close());
  await waitUntil(() => queue.counts('a').dead === 3, 10_000, 'three dead letters');
  assert.equal(calls, 3, 'three attempts, then dead');
  assert.deepEqual(queue.counts('a'), { pending: 0, dead: 3 });
  assert.match(queue.listDead('a')[0]?.message ?? '', /gave up after 3 attempts: down/);
  assert.equal(queue.listDead('a')[0]?.code, 'EW_SINK_HTTP');
  assert.deepEqual(queue.counts('b'), { pending: 3, dead: 0 }, 'the other sink is untouched');
  await loop.close();
  await loop.close();
});

test('state database: a version 2 database gains the sink tables (schema version 3), its rows untouched', async (t) => {
  const dir = await tempFolder(t);
  const db = openStateDb(dir);
  db.prepare("INSERT INTO meta (key, value) VALUES ('k', 'v')").run();
  // What a version 2 agent left: no sink tables.
  db.exec('DROP TABLE sink_pending; DROP TABLE sink_dead; PRAGMA user_version = 2;');
  db.close();
  const again = openStateDb(dir);
  t.after(() => again.close());
  assert.equal(again.pragma('user_version', { simple: true }), 3);
  assert.equal((again.prepare("SELECT value FROM meta WHERE key = 'k'").get() as { value: string }).value, 'v');
  const queue = new SinkQueue(again, ['jsonl'], 10);
  queue.add('img', '{}');
  assert.deepEqual(queue.counts('jsonl'), { pending: 1, dead: 0 });
});

test('sidecar beside the image (afterDelivery keep): <image>.json next to it, ignored by the watcher', async (t) => {
  const service = await startService(t);
  const { dir, inbox } = await inboxOfJpegs(t, 3, { offset: 900, prefix: 'b-' });
  const { agent } = await startAgent(t, agentArgs({ host: service.url, inbox, stateDir: join(dir, 'state') }, ['--once', '--sink-sidecar', 'beside']), { PICSELLIA_API_TOKEN: service.token });
  const summary = await agent.runOnce();
  assert.equal(summary.monitored, 3);
  assert.equal(summary.rejected, 0, 'the sidecars are not taken for images');
  const files = (await readdir(inbox)).filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(files, ['b-0.jpg.json', 'b-1.jpg.json', 'b-2.jpg.json']);
  const record = JSON.parse(await readFile(join(inbox, 'b-1.jpg.json'), 'utf8')) as SinkRecord;
  assert.equal(record.path, join(inbox, 'b-1.jpg'));
  assert.ok(storedByImageId(service.dataDir).has(record.imageId));
});
