/** Stats API on a known dataset: counts, percentiles (within the sketch's 1 %), agreement, confusion, mean scores, PSI and timeline, checked against numbers computed by hand. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile, populationStabilityIndex, PSI_EPSILON } from '../../src/server/index.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer } from './sdk.js';

const close = (actual: number, expected: number, tol = 1e-6) => assert.ok(Math.abs(actual - expected) <= tol, `${actual} ≈ ${expected}`);

test('nearest-rank percentiles and PSI with epsilon smoothing (values computed by hand)', () => {
  const values = Array.from({ length: 40 }, (_, i) => i + 1);
  assert.equal(percentile(values, 50), 20);
  assert.equal(percentile(values, 95), 38);
  assert.equal(percentile(values, 99), 40);
  assert.equal(percentile([7], 99), 7);
  assert.equal(PSI_EPSILON, 1e-4);
  // (0.45-0.5)·ln(0.45/0.5) + (0.55-0.5)·ln(0.55/0.5) = 0.0100295 once shares are smoothed with ε = 1e-4.
  close(populationStabilityIndex([50, 50], [45, 55]).psi, 0.010029509077310816);
  close(populationStabilityIndex([30, 30, 40], [20, 40, 40]).psi, 0.06926894674332716);
  close(populationStabilityIndex([10, 10, 0], [5, 5, 10]).psi, 4.603789069259316);
  assert.equal(populationStabilityIndex([3, 4], [3, 4]).psi, 0);
});

// 40 predictions 10 s apart. Champion: 0..9 cat, 10..19 dog, 20..24 cat, 25..29 dog, 30..39 bird.
// Shadow on the first 30 only, equal to the champion except every 5th (i % 5 == 0) which is the next class.
const T0 = 1_700_000_040; // a multiple of 60
const champ = (i: number) => (i < 10 ? 0 : i < 20 ? 1 : i < 25 ? 0 : i < 30 ? 1 : 2);
const shadowOf = (i: number) => (i % 5 === 0 ? (champ(i) + 1) % 3 : champ(i));

test('stats of a known dataset', async (t) => {
  const { server } = await startTestServer(t, { labels: ['cat', 'dog', 'bird'] });
  const h = await sdkHandshake(server.url, server.token);
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    const body = monitorBody({
      image: await makeJpeg(8, 8, 1000 + i),
      width: 8,
      height: 8,
      filename: `img-${i}.jpg`,
      champion: classification(champ(i), 0.5 + 0.01 * i),
      latencyS: (i + 1) / 1000,
      ...(i < 30 ? { shadow: classification(shadowOf(i), 0.4 + 0.01 * i), shadowLatencyS: (2 * (i + 1)) / 1000 } : {}),
      timestamp: T0 + 10 * i,
      source: i < 20 ? 'cam-a' : 'cam-b',
      tags: i % 2 === 0 ? ['all', 'even'] : ['all'],
      customMetadata: { edgewatch: { imageId: `img-${i}`, champion: { name: 'mobilenet-a', hash: 'abcdef0123456789' }, shadow: { name: 'mobilenet-b', hash: '0123' }, backend: 'wasm', agentVersion: '0.1.0' } },
    });
    const res = await postMonitor(h, body);
    assert.equal(res.status, 201, res.text);
    ids.push(res.json.id);
  }
  const get = (query: string) => httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats${query}`, { headers: { authorization: `Bearer ${h.jwt}` } });
  const res = await get('?bucket=60');
  assert.equal(res.status, 200, res.text);
  const s = res.json;

  assert.equal(s.deployment.name, 'demo');
  assert.equal(s.counts.predictions, 40);
  assert.equal(s.counts.withShadow, 30);
  assert.equal(s.counts.firstTimestamp, T0);
  assert.equal(s.counts.lastTimestamp, T0 + 390);
  assert.deepEqual(s.counts.sources, [{ name: 'cam-a', count: 20 }, { name: 'cam-b', count: 20 }]);
  assert.deepEqual(s.counts.tags, [{ name: 'all', count: 40 }, { name: 'even', count: 20 }]);
  assert.deepEqual(s.models.champion, [{ name: 'mobilenet-a · abcdef012345', count: 40 }]);
  assert.deepEqual(s.models.backends, [{ name: 'wasm', count: 40 }]);

  assert.deepEqual(s.classes, [{ id: 0, label: 'cat' }, { id: 1, label: 'dog' }, { id: 2, label: 'bird' }]);
  assert.deepEqual(s.labelDistribution, { champion: [15, 15, 10], shadow: [12, 15, 3] });

  // Percentiles come from a log-bucketed sketch: within 1 % of the exact nearest-rank values; min, max and mean are exact.
  const within = (actual: number, exact: number) => assert.ok(Math.abs(actual - exact) <= 0.01 * exact + 1e-9, `${actual} within 1 % of ${exact}`);
  assert.equal(s.latency.unit, 'ms');
  assert.equal(s.latency.relativeError, 0.01);
  assert.equal(s.latency.champion.count, 40);
  within(s.latency.champion.p50Ms, 20);
  within(s.latency.champion.p95Ms, 38);
  within(s.latency.champion.p99Ms, 40);
  assert.equal(s.latency.champion.minMs, 1);
  assert.equal(s.latency.champion.maxMs, 40);
  close(s.latency.champion.meanMs, 20.5, 1e-3);
  assert.equal(s.latency.shadow.count, 30);
  within(s.latency.shadow.p50Ms, 30);
  within(s.latency.shadow.p95Ms, 58);
  within(s.latency.shadow.p99Ms, 60);
  const hist = s.latency.histogram;
  assert.equal(hist.edgesMs.length, 21);
  assert.equal(hist.edgesMs[0], 1);
  within(hist.edgesMs[20], 60);
  assert.equal(hist.champion.reduce((a: number, b: number) => a + b, 0), 40);
  assert.equal(hist.shadow.reduce((a: number, b: number) => a + b, 0), 30);

  // Compared: 30; disagreements at i = 0, 5, 10, 15, 20, 25.
  assert.deepEqual(s.agreement, { compared: 30, agreed: 24, rate: 0.8 });
  assert.deepEqual(s.confusion.matrix, [
    [12, 3, 0],
    [0, 12, 3],
    [0, 0, 0],
  ]);
  close(s.meanScore.champion[0], 0.603333);
  close(s.meanScore.champion[1], 0.686667);
  close(s.meanScore.champion[2], 0.845);
  close(s.meanScore.shadow[0], 0.508333);
  close(s.meanScore.shadow[1], 0.57);
  close(s.meanScore.shadow[2], 0.566667);

  // Windows of 20 in whole minutes (6 predictions a minute): reference = minutes 0-3 (i 0..23: 14 cat, 10 dog),
  // recent = minutes 4-6 (i 24..39: 1 cat, 5 dog, 10 bird; the last 20 would reach into the reference's minute 3).
  assert.equal(s.drift.metric, 'PSI');
  assert.equal(s.drift.windowSize, 20);
  close(s.drift.psi, populationStabilityIndex([14, 10, 0], [1, 5, 10]).psi);
  assert.equal(s.drift.status, 'significant');
  assert.equal(s.drift.epsilon, 1e-4);
  assert.deepEqual(s.drift.thresholds, { stable: '< 0.1', moderate: '0.1 to < 0.25', significant: '>= 0.25' });
  assert.deepEqual(s.drift.reference, { from: T0, to: T0 + 230, count: 24 });
  assert.deepEqual(s.drift.recent, { from: T0 + 240, to: T0 + 390, count: 16 });
  assert.deepEqual(s.drift.perClass.map((c: { referenceShare: number; recentShare: number }) => [c.referenceShare, c.recentShare]), [[0.583333, 0.0625], [0.416667, 0.3125], [0, 0.625]]);

  assert.equal(s.timeline.bucketSeconds, 60);
  assert.deepEqual(s.timeline.t, [0, 1, 2, 3, 4, 5, 6].map((b) => T0 + 60 * b));
  assert.deepEqual(s.timeline.traffic, [6, 6, 6, 6, 6, 6, 4]);
  assert.deepEqual(s.timeline.withShadow, [6, 6, 6, 6, 6, 0, 0]);
  assert.deepEqual(s.timeline.agreementRate, [0.666667, 0.833333, 0.833333, 0.833333, 0.833333, null, null]);
  assert.deepEqual(s.timeline.championLabels[2], [0, 0, 0, 0, 0, 6, 4]);

  // Filters.
  const camB = (await get('?source=cam-b')).json;
  assert.equal(camB.counts.predictions, 20);
  assert.deepEqual(camB.labelDistribution.champion, [5, 5, 10]);
  assert.equal((await get('?tag=even')).json.counts.predictions, 20);
  // Windows are rounded out to whole minutes: [T0+100, T0+199] reads minutes T0+60 .. T0+180, i = 6..23.
  const range = (await get(`?from=${T0 + 100}&to=${T0 + 199}`)).json;
  assert.equal(range.counts.predictions, 18);
  assert.deepEqual(range.window, { from: T0 + 60, to: T0 + 240, resolutionSeconds: 60, note: 'windows are rounded out to whole minutes' });
  assert.equal(range.drift.psi, null);
  assert.equal(range.drift.status, 'insufficient-data');
  assert.equal((await get(`?from=${new Date((T0 + 300) * 1000).toISOString()}`)).json.counts.predictions, 10);
  assert.equal((await get('?drift_window=10')).json.drift.windowSize, 10);
  for (const [q, field] of [['?bucket=0', 'bucket'], ['?from=yesterday-ish', 'from'], ['?drift_window=-1', 'drift_window']] as const) {
    const bad = await get(q);
    assert.equal(bad.status, 422, q);
    assert.equal(bad.json.field, field);
  }

  // Gallery: disagreements first (newest first), then the newest others.
  const gallery = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/predictions?limit=10&order=disagreements-first`, { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(gallery.status, 200);
  const names = gallery.json.items.map((it: { filename: string }) => it.filename);
  assert.deepEqual(names, ['img-25.jpg', 'img-20.jpg', 'img-15.jpg', 'img-10.jpg', 'img-5.jpg', 'img-0.jpg', 'img-39.jpg', 'img-38.jpg', 'img-37.jpg', 'img-36.jpg']);
  const first = gallery.json.items[0];
  assert.equal(first.agree, false);
  assert.deepEqual([first.champion.label, first.shadow.label], ['dog', 'bird']);
  assert.equal(first.champion.model, 'mobilenet-a');
  assert.equal(gallery.json.items[6].shadow, null);
  const latest = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/predictions?limit=2`, { headers: { authorization: `Bearer ${server.token}` } });
  assert.deepEqual(latest.json.items.map((it: { filename: string }) => it.filename), ['img-39.jpg', 'img-38.jpg']);
  const img = await httpRequest(`${server.url}${first.imageUrl}`, { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(img.status, 200);
  assert.equal(img.headers['content-type'], 'image/jpeg');

  // Auth: the stats API wants the token, a JWT of that deployment, or a dashboard session.
  assert.equal((await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`)).status, 401);
  assert.equal((await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`, { headers: { authorization: `Bearer ${server.token}` } })).status, 200);
  assert.equal((await httpRequest(`${server.url}${first.imageUrl}`)).status, 401);
});

test('empty deployment: stats are well-formed with nulls, never NaN', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const res = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`, { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.json.counts.predictions, 0);
  assert.equal(res.json.latency.champion, null);
  assert.equal(res.json.agreement.rate, null);
  assert.equal(res.json.drift.psi, null);
  assert.deepEqual(res.json.timeline.t, []);
  assert.ok(!res.text.includes('NaN'));
});

test('empty predictions get the "(none)" class', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const empty = { detection_classes: [], detection_texts: null, detection_scores: [] };
  await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 1), width: 8, height: 8, champion: empty, latencyS: 0.01, shadow: classification(0, 0.9) }));
  const s = (await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`, { headers: { authorization: `Bearer ${server.token}` } })).json;
  assert.deepEqual(s.classes, [{ id: 0, label: 'class 0' }, { id: null, label: '(none)' }]);
  assert.deepEqual(s.confusion.matrix, [[0, 0], [1, 0]]);
  assert.equal(s.agreement.rate, 0);
});
