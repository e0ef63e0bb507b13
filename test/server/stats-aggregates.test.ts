/**
 * The aggregates behind the stats: the latency sketch's error bound, windows covered by few buckets, a bounded number
 * of chart points whatever the span, late shadows, sampling weights, retention (rows go, aggregates stay) and the
 * one-time backfill of a database written before the aggregates existed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { coverWindow, LEVELS_S, MAX_TIMELINE_POINTS } from '../../src/server/aggregates/levels.js';
import { LATENCY_RELATIVE_ERROR, latencyBin, quantilesMs } from '../../src/server/aggregates/sketch.js';
import { computeDashboardStats } from '../../src/server/stats.js';
import { PredictionStore, type StoredPrediction } from '../../src/server/store.js';
import { classification, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir } from './sdk.js';
import { createRng as rng } from '../../src/demo/shapes.js';

const DEP = 'dep-1';
let n = 0;
function prediction(o: Partial<StoredPrediction> & { timestampS: number }): StoredPrediction {
  n += 1;
  return {
    id: randomUUID(), deploymentId: DEP, imageKey: `k${n}`, filename: `f${n}.jpg`, contentType: 'IMAGE/JPEG', width: 8, height: 8,
    imagePath: `x/${n}.jpg`, imageBytes: 100, champion: classification(0, 0.9), championClass: 0, championScore: 0.9, latencyS: 0.02,
    shadow: null, shadowClass: null, shadowScore: null, shadowLatencyS: null, source: 'serving', tags: [], metadata: null, customMetadata: null,
    receivedS: o.timestampS, ...o,
  };
}

const stats = (store: PredictionStore, f: { fromS?: number; toS?: number } = {}) => computeDashboardStats(store.aggregates, { deploymentId: DEP, ...f }, { labels: ['a', 'b'], driftWindow: 200 });


test('sketch percentiles stay within the stated relative error of the exact nearest-rank ones', () => {
  const random = rng(7);
  for (const [median, sigma] of [[20, 0.3], [0.5, 1.5], [900, 0.05]] as const) {
    const values = Array.from({ length: 5000 }, () => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random())));
    const h = new Map<number, number>();
    for (const v of values) h.set(latencyBin(v), (h.get(latencyBin(v)) ?? 0) + 1);
    const sorted = [...values].sort((a, b) => a - b);
    const ps = [1, 10, 50, 90, 95, 99, 99.9];
    const got = quantilesMs(h, ps, sorted[0] as number, sorted[sorted.length - 1] as number);
    ps.forEach((p, i) => {
      // Nearest rank ceil(p/100 · n), with 99.9/100 · 5000 read as 4995 (not 4995.000000000001).
      const exact = sorted[Math.max(1, Math.ceil((p / 100) * sorted.length - 1e-9)) - 1] as number;
      assert.ok(Math.abs((got[i] as number) - exact) <= LATENCY_RELATIVE_ERROR * exact * (1 + 1e-9), `p${p} of lognormal(${median}, ${sigma}): ${got[i]} vs ${exact}`);
    });
  }
});

test('a window is covered exactly by whole buckets, a few per level', () => {
  const random = rng(11);
  for (let k = 0; k < 200; k++) {
    const a = Math.floor((random() * 4e8) / 60) * 60;
    const b = a + Math.floor((random() * 1e8) / 60) * 60;
    const ranges = coverWindow(a, b);
    const pieces = ranges.flatMap((r) => [[r.fromS, r.toS]]).sort((x, y) => (x[0] as number) - (y[0] as number));
    let at = a;
    for (const [x, y] of pieces) {
      assert.equal(x, at);
      at = y as number;
    }
    assert.equal(at, b === a ? a : b);
    for (const r of ranges) assert.equal(r.fromS % r.level, 0);
    assert.ok(ranges.length <= 2 * LEVELS_S.length - 1, `${ranges.length} ranges`);
  }
});

test('two predictions 3e13 seconds apart give at most MAX_TIMELINE_POINTS chart points (issue #14 item 1)', async (t) => {
  const dir = await tempDir(t);
  const store = new PredictionStore(join(dir, 'm.db'));
  t.after(() => store.close());
  store.insert(prediction({ timestampS: 0 }));
  store.insert(prediction({ timestampS: 3e13 }));
  const s = await stats(store);
  assert.equal(s.counts.predictions, 2);
  assert.ok(s.timeline.t.length <= MAX_TIMELINE_POINTS + 1, `${s.timeline.t.length} points`);
  assert.equal(s.timeline.traffic.reduce((a, b) => a + b, 0), 2);
  const asked = await computeDashboardStats(store.aggregates, { deploymentId: DEP }, { labels: [], driftWindow: 200, bucketSeconds: 60 });
  assert.ok(asked.timeline.t.length <= MAX_TIMELINE_POINTS + 1);
});

test('a late shadow moves its prediction in the aggregates; sampling weights give estimates beside stored counts', async (t) => {
  const dir = await tempDir(t);
  const store = new PredictionStore(join(dir, 'm.db'));
  t.after(() => store.close());
  const T = 1_750_000_020;
  const p = prediction({ timestampS: T, championVersionId: 'v1' });
  store.insert(p);
  store.insert(prediction({ timestampS: T + 1, championClass: 1, champion: classification(1, 0.5), championScore: 0.5, customMetadata: { edgewatch: { sampling: { probability: 0.25 } } } }));
  let s = await stats(store);
  assert.equal(s.counts.predictions, 2);
  assert.equal(s.counts.estimated, 5);
  assert.deepEqual(s.labelDistribution.champion, [1, 4]);
  assert.equal(s.counts.withShadow, 0);
  assert.equal(store.setShadow(p.id, classification(1, 0.7), 1, 0.7, 0.04, 'v2'), true);
  assert.equal(store.setShadow(p.id, classification(1, 0.7), 1, 0.7, 0.04, 'v2'), false);
  s = await stats(store);
  assert.equal(s.counts.predictions, 2);
  assert.equal(s.counts.withShadow, 1);
  assert.deepEqual(s.confusion.matrix, [[0, 1], [0, 0]]);
  assert.equal(s.latency.shadow?.count, 1);
  assert.deepEqual(s.models.championVersions, [{ name: 'v1', count: 1 }]);
  assert.deepEqual(s.models.shadowVersions, [{ name: 'v2', count: 1 }]);
  assert.equal(store.get(p.id)?.shadowVersionId, 'v2');
});

test('retention deletes prediction rows and files but the aggregates stay: long-term charts survive', async (t) => {
  const { server } = await startTestServer(t, { retainDays: 2 });
  const h = await sdkHandshake(server.url, server.token);
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 6; i++) {
    const res = await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 70 + i), width: 8, height: 8, champion: classification(i % 2, 0.8), latencyS: 0.01 * (i + 1), timestamp: now - (i < 4 ? 10 : 0) * 86_400 - i }));
    assert.equal(res.status, 201, res.text);
  }
  const read = () => computeDashboardStats(server.store.aggregates, { deploymentId: h.deploymentId }, { labels: [], driftWindow: 200 });
  const before = await read();
  const result = await server.retention.run();
  assert.equal(result.deletedByAge, 4);
  assert.equal(await server.store.count(h.deploymentId), 2);
  const after = await read();
  assert.deepEqual(after.counts, before.counts);
  assert.deepEqual(after.labelDistribution, before.labelDistribution);
  assert.deepEqual(after.latency, before.latency);
  assert.deepEqual(after.timeline, before.timeline);
  assert.equal(after.counts.predictions, 6);
});

test('a database written before the aggregates is backfilled once when opened', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.db');
  const store = new PredictionStore(file);
  for (let i = 0; i < 12; i++) store.insert(prediction({ timestampS: 1_750_000_000 + 3600 * i, championClass: i % 2, latencyS: 0.01 + i / 1000, tags: i < 6 ? ['early'] : [] }));
  const expected = await stats(store);
  store.close();
  // Back to the version-0 layout: no aggregate tables, no version columns, user_version 0.
  const db = new Database(file);
  db.exec('DROP TABLE agg_dims; DROP TABLE agg_counts; DROP TABLE agg_pairs; DROP TABLE agg_latency; DROP TABLE agg_scores; DROP TABLE agg_objects');
  db.exec('ALTER TABLE predictions DROP COLUMN champion_version_id; ALTER TABLE predictions DROP COLUMN shadow_version_id');
  db.pragma('user_version = 0');
  db.close();
  const reopened = new PredictionStore(file);
  t.after(() => reopened.close());
  const got = await stats(reopened);
  assert.deepEqual(got.counts, expected.counts);
  assert.deepEqual(got.labelDistribution, expected.labelDistribution);
  assert.deepEqual(got.latency, expected.latency);
  assert.equal((await computeDashboardStats(reopened.aggregates, { deploymentId: DEP, tags: ['early'] }, { labels: [], driftWindow: 200 })).counts.predictions, 6);
  assert.equal(reopened.get(reopened.oldest(1)[0]?.id as string)?.championVersionId, null);
});

test('the stats worker (own read-only connection, another thread) answers what the inline computation answers', async (t) => {
  const dir = await tempDir(t);
  const store = new PredictionStore(join(dir, 'm.db'));
  t.after(() => store.close());
  for (let i = 0; i < 50; i++) store.insert(prediction({ timestampS: 1_750_000_000 + 37 * i, championClass: i % 3, latencyS: 0.01 + (i % 7) / 1000, source: i % 2 ? 'a' : 'b' }));
  for (const f of [{}, { fromS: 1_750_000_600 }, { source: 'a' }]) {
    const filter = { deploymentId: DEP, ...f };
    const options = { labels: ['x', 'y', 'z'], driftWindow: 10 };
    assert.deepEqual(await store.stats.dashboard(filter, options), await computeDashboardStats(store.aggregates, filter, options), JSON.stringify(f));
  }
  // A row written after the worker opened its connection is seen by the next read (WAL, no stale snapshot).
  store.insert(prediction({ timestampS: 1_750_010_000 }));
  assert.equal((await store.stats.dashboard({ deploymentId: DEP }, { labels: [], driftWindow: 10 })).counts.predictions, 51);
});

test('a deployment tagging every image differently stays bounded: combinations beyond the cap share an overflow dimension', async (t) => {
  const dir = await tempDir(t);
  const store = new PredictionStore(join(dir, 'm.db'), { maxDimsPerDeployment: 3 });
  t.after(() => store.close());
  for (let i = 0; i < 10; i++) store.insert(prediction({ timestampS: 1_750_000_000 + i, tags: [`t${i}`] }));
  const dims = await store.aggregates.dims(DEP);
  assert.equal(dims.filter((d) => !d.rollup).length, 4);
  const read = (tags?: string[]) => computeDashboardStats(store.aggregates, { deploymentId: DEP, tags }, { labels: [], driftWindow: 200 });
  assert.equal((await read()).counts.predictions, 10);
  assert.equal((await read(['t0'])).counts.predictions, 1);
  assert.equal((await read(['t9'])).counts.predictions, 0);
  assert.equal((await read(['(other)'])).counts.predictions, 7);
  assert.deepEqual((await read()).counts.tags.map((x) => x.name), ['(other)', 't0', 't1', 't2']);
});
