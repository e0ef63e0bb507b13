/**
 * Issue 10 item 3: the SDK's `Deployment.get_stats(...)` against the embedded service, with queries built as the SDK
 * builds them (`_build_filter`: service, model_id, from_timestamp, to_timestamp, since, repeated includes/excludes/tags,
 * encoded like python-requests), on `/stats` and `/predictions/stats`, through the advertised `oracle_host` and at the root.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeploymentInfo } from '../../src/server/index.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, type Handshake, type HttpResult } from './sdk.js';

/** `requests.get(url, params=...)`: None dropped, lists repeated (`doseq`). */
function sdkQuery(params: Record<string, string | number | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) q.append(k, String(x));
  }
  return q.toString();
}

function getStats(h: Handshake, path: 'stats' | 'predictions/stats', params: Record<string, string | number | string[] | undefined>, base = h.oracleHost): Promise<HttpResult> {
  return httpRequest(`${base}/api/deployment/${h.deploymentId}/${path}?${sdkQuery(params)}`, { headers: { authorization: `Bearer ${h.jwt}`, 'user-agent': 'Picsellia-SDK/6.28.1' } });
}

function deploymentOf(server: { organizations: readonly { deployments: readonly DeploymentInfo[] }[] }): DeploymentInfo {
  return server.organizations[0]?.deployments[0] as DeploymentInfo;
}

const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const V3 = '33333333-3333-4333-8333-333333333333';

// 30 predictions a minute apart, starting an hour ago on a whole minute. 0..19: champion V1, shadow V2, every image
// sent; 20..29: after a promotion, champion V2, shadow V3, one image in two sent (sampling probability 0.5, weight 2),
// with a shadow on the even ones only. Champion class: 0 (cat) below 10, 1 (dog) from 10; shadow = champion except i % 4 == 0 (bird).
const NOW_S = Math.floor(Date.now() / 1000 / 60) * 60;
const T0 = NOW_S - 3600;
const champ = (i: number) => (i < 10 ? 0 : 1);
const shadowOf = (i: number) => (i % 4 === 0 ? 2 : champ(i));

async function fill(t: Parameters<typeof startTestServer>[0]) {
  const { server } = await startTestServer(t, { labels: ['cat', 'dog', 'bird'] });
  const d = deploymentOf(server);
  const h = await sdkHandshake(server.url, server.token);
  for (let i = 0; i < 30; i++) {
    // The registry sets the versions; a promotion between i = 19 and i = 20.
    d.championVersionId = i < 20 ? V1 : V2;
    d.shadowVersionId = i < 20 ? V2 : V3;
    const withShadow = i < 20 || i % 2 === 0;
    const res = await postMonitor(h, monitorBody({
      image: await makeJpeg(8, 8, 500 + i),
      width: 8,
      height: 8,
      champion: classification(champ(i), 0.5 + i / 100),
      latencyS: (10 + i) / 1000,
      ...(withShadow ? { shadow: classification(shadowOf(i), 0.4), shadowLatencyS: 0.05 } : {}),
      timestamp: T0 + 60 * i + 5,
      tags: i % 2 === 0 ? ['even'] : ['odd'],
      ...(i >= 20 ? { customMetadata: { edgewatch: { imageId: `img-${i}`, sampling: { probability: 0.5 } } } } : {}),
    }));
    assert.equal(res.status, 201, res.text);
  }
  return { server, h, d };
}

type Model = { role: string; model_id: string | null; count: { stored: number; estimated: number }; [k: string]: unknown };
const byRole = (models: Model[]) => models.map((m) => [m.role, m.model_id, m.count.stored, m.count.estimated]);

test('get_stats services with their filters, per model version and role, weighted by the sampling probability', async (t) => {
  const { server, h } = await fill(t);

  // metrics on /stats: one entry per (role, version); estimated counts weight the sampled predictions by 2.
  const metrics = await getStats(h, 'stats', { service: 'metrics' });
  assert.equal(metrics.status, 200, metrics.text);
  assert.equal(metrics.json.service, 'metrics');
  assert.equal(metrics.json.endpoint, 'stats');
  assert.deepEqual(metrics.json.count, { stored: 30, estimated: 40 });
  assert.deepEqual(byRole(metrics.json.models), [
    ['champion', V1, 20, 20],
    ['champion', V2, 10, 20],
    ['shadow', V2, 20, 20],
    ['shadow', V3, 5, 10],
  ]);
  const v1 = metrics.json.models[0];
  assert.equal(v1.latency.unit, 'ms');
  assert.equal(v1.latency.relative_error, 0.01);
  assert.equal(v1.latency.min, 10);
  assert.equal(v1.latency.max, 29);
  // Nearest-rank p50 of 10..29 ms is 19 ms; the sketch answers within 1 %.
  assert.ok(Math.abs(v1.latency.p50 - 19) <= 0.19, String(v1.latency.p50));
  assert.equal(v1.empty_predictions.stored, 0);

  // model_id = V2: its predictions as champion (after the promotion) and as shadow (before).
  const v2 = await getStats(h, 'predictions/stats', { service: 'metrics', model_id: V2 });
  assert.equal(v2.status, 200, v2.text);
  assert.deepEqual(byRole(v2.json.models), [['champion', V2, 10, 20], ['shadow', V2, 20, 20]]);
  assert.deepEqual(v2.json.count, { stored: 30, estimated: 40 });
  const v3 = await getStats(h, 'stats', { service: 'metrics', model_id: V3 });
  assert.deepEqual(byRole(v3.json.models), [['shadow', V3, 5, 10]]);
  assert.deepEqual(v3.json.count, { stored: 5, estimated: 10 });

  // label_distribution, with includes/excludes naming classes.
  const labels = await getStats(h, 'stats', { service: 'label_distribution', model_id: V1 });
  assert.deepEqual(labels.json.models[0].labels, [
    { class_id: 0, label: 'cat', stored: 10, estimated: 10, share: 0.5 },
    { class_id: 1, label: 'dog', stored: 10, estimated: 10, share: 0.5 },
  ]);
  const shadowLabels = (await getStats(h, 'predictions/stats', { service: 'label_distribution', model_id: V2 })).json.models;
  // V2 as shadow (i 0..19): bird at 0, 4, 8, 12, 16; cat at 1-3, 5-7, 9; dog at 10, 11, 13-15, 17-19.
  assert.deepEqual(shadowLabels[1].labels.map((l: { label: string; stored: number }) => [l.label, l.stored]), [['cat', 7], ['dog', 8], ['bird', 5]]);
  const onlyCat = await getStats(h, 'stats', { service: 'label_distribution', model_id: V1, includes: ['cat'] });
  assert.deepEqual(onlyCat.json.models[0].labels.map((l: { label: string }) => l.label), ['cat']);
  const noDog = await getStats(h, 'stats', { service: 'label_distribution', model_id: V1, excludes: ['dog', '2'] });
  assert.deepEqual(noDog.json.models[0].labels.map((l: { label: string }) => l.label), ['cat']);

  // Window filters: from/to (rounded out to whole minutes), since, tags (any of).
  const window = await getStats(h, 'stats', { service: 'metrics', from_timestamp: T0 + 60 * 5, to_timestamp: T0 + 60 * 9 + 30 });
  assert.deepEqual(window.json.count, { stored: 5, estimated: 5 });
  assert.deepEqual(window.json.window, { from: T0 + 300, to: T0 + 600, resolution_seconds: 60 });
  const since = await getStats(h, 'stats', { service: 'metrics', since: Math.round(Date.now() / 1000 - (T0 + 60 * 25 + 10)) });
  assert.deepEqual(since.json.count, { stored: 5, estimated: 10 });
  assert.equal((await getStats(h, 'stats', { service: 'metrics', tags: ['even'] })).json.count.stored, 15);
  assert.equal((await getStats(h, 'stats', { service: 'metrics', tags: ['even', 'odd'] })).json.count.stored, 30);
  assert.equal((await getStats(h, 'stats', { service: 'metrics', tags: ['none-such'] })).json.count.stored, 0);

  // classification: per class, agreement with the other model, confusion champion x shadow.
  const cls = await getStats(h, 'predictions/stats', { service: 'classification', model_id: V1 });
  assert.equal(cls.status, 200, cls.text);
  assert.deepEqual(cls.json.models[0].agreement_with_other_model, { compared: 20, agreed: 15, rate: 0.75 });
  assert.deepEqual(cls.json.confusion.classes.map((c: { label: string }) => c.label), ['cat', 'dog', 'bird']);
  assert.deepEqual(cls.json.confusion.matrix, [[7, 0, 3], [0, 8, 2], [0, 0, 0]]);
  assert.equal(cls.json.reviews.count, 0);

  // ks_drift: the window against the one just before it.
  const drift = await getStats(h, 'stats', { service: 'ks_drift', from_timestamp: T0 + 60 * 15, to_timestamp: T0 + 60 * 29 + 59 });
  assert.equal(drift.status, 200, drift.text);
  assert.deepEqual(drift.json.current, { from: T0 + 900, to: T0 + 1800 });
  assert.deepEqual(drift.json.reference, { from: T0, to: T0 + 900 });
  const v1Drift = drift.json.models.find((m: Model) => m.role === 'champion' && m.model_id === V1);
  // V1 as champion: i 0..14 in the reference (10 cat, 5 dog), i 15..19 in the current window (5 dog).
  assert.deepEqual([v1Drift.reference.stored, v1Drift.current.stored], [15, 5]);
  assert.ok(v1Drift.score_ks.statistic > 0.5 && v1Drift.score_ks.statistic <= 1, String(v1Drift.score_ks.statistic));
  assert.ok(v1Drift.score_ks.p_value >= 0 && v1Drift.score_ks.p_value < 0.05, String(v1Drift.score_ks.p_value));
  assert.equal(v1Drift.label_psi.status, 'significant');

  // The same call at the root (urljoin clients drop the /oracle prefix) and through the advertised oracle_host.
  assert.ok(h.oracleHost.endsWith('/oracle'));
  assert.deepEqual((await getStats(h, 'stats', { service: 'metrics' }, server.url)).json.count, metrics.json.count);
  // Without `service`, /stats stays the dashboard's document.
  const dash = await getStats(h, 'stats', {});
  assert.equal(dash.json.counts.predictions, 30);
  assert.equal(dash.json.counts.estimated, 40);
});

test('get_stats answers 4xx with a message for what it does not support, never a body that looks like data', async (t) => {
  const { h } = await fill(t);
  const cases: [string, 'stats' | 'predictions/stats', Record<string, string | number | string[]>, number, string, RegExp][] = [
    ['ae_outlier', 'predictions/stats', { service: 'ae_outlier' }, 422, 'service', /no outlier-detection/],
    ['ks_drift on the per-prediction endpoint', 'predictions/stats', { service: 'ks_drift' }, 422, 'service', /GET \/api\/deployment\/\{id\}\/stats/],
    ['classification on the aggregated endpoint', 'stats', { service: 'classification' }, 422, 'service', /predictions\/stats/],
    ['unknown service', 'stats', { service: 'histogram' }, 422, 'service', /not a service/],
    ['no service on /predictions/stats', 'predictions/stats', {}, 422, 'service', /is required/],
    ['since and from_timestamp', 'stats', { service: 'metrics', since: 60, from_timestamp: T0 }, 422, 'since', /give one of them/],
    ['negative since', 'stats', { service: 'metrics', since: -5 }, 422, 'since', /positive/],
    ['bad timestamp', 'stats', { service: 'metrics', to_timestamp: 'soon' }, 422, 'to_timestamp', /epoch seconds/],
    ['to before from', 'stats', { service: 'metrics', from_timestamp: T0 + 60, to_timestamp: T0 }, 422, 'to_timestamp', /before/],
    ['includes with metrics', 'stats', { service: 'metrics', includes: ['cat'] }, 422, 'includes', /not kept per class/],
    ['excludes with ks_drift', 'stats', { service: 'ks_drift', excludes: ['cat'] }, 422, 'excludes', /not kept per class/],
    ['unknown class', 'stats', { service: 'label_distribution', includes: ['zebra'] }, 422, 'includes', /zebra/],
    ['object_detection on a classification deployment', 'stats', { service: 'object_detection' }, 422, 'service', /CLASSIFICATION/],
    ['unknown model version', 'stats', { service: 'metrics', model_id: '44444444-4444-4444-8444-444444444444' }, 404, 'model_id', /not a model of deployment/],
  ];
  for (const [what, path, params, status, field, message] of cases) {
    const res = await getStats(h, path, params);
    assert.equal(res.status, status, `${what}: ${res.text}`);
    assert.equal(res.json.field, field, what);
    assert.match(res.json.message, message, what);
    assert.equal(res.json.models, undefined, what);
  }
  const anonymous = await httpRequest(`${h.oracleHost}/api/deployment/${h.deploymentId}/predictions/stats?service=metrics`);
  assert.equal(anonymous.status, 401);
});

test('object_detection counts objects per class; a sampling probability outside (0, 1] is a 422 naming the field', async (t) => {
  const { server } = await startTestServer(t, { deployment: ['line:OBJECT_DETECTION'], labels: ['car', 'person'] });
  const h = await sdkHandshake(server.url, server.token, 'edge', 'line');
  const det = (classes: number[], scores: number[]) => ({ detection_classes: classes, detection_texts: null, detection_scores: scores, detection_boxes: classes.map(() => [1, 1, 4, 4]) });
  const bodies = [det([0, 0, 1], [0.9, 0.7, 0.8]), det([1], [0.6]), det([], [])];
  for (const [i, champion] of bodies.entries()) {
    const res = await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 900 + i), width: 8, height: 8, champion: champion as never, latencyS: 0.02 }));
    assert.equal(res.status, 201, res.text);
  }
  const od = await getStats(h, 'stats', { service: 'object_detection' });
  assert.equal(od.status, 200, od.text);
  const m = od.json.models[0];
  assert.deepEqual(m.images, { stored: 3, estimated: 3 });
  assert.deepEqual(m.images_without_objects, { stored: 1, estimated: 1 });
  assert.deepEqual(m.objects, { stored: 4, estimated: 4 });
  assert.equal(m.objects_per_image, 1.333333);
  assert.deepEqual(m.classes.map((c: { label: string; objects_stored: number; mean_score: number }) => [c.label, c.objects_stored, c.mean_score]), [['car', 2, 0.8], ['person', 2, 0.7]]);
  const persons = await getStats(h, 'predictions/stats', { service: 'object_detection', includes: ['person'] });
  assert.deepEqual(persons.json.models[0].classes.map((c: { label: string }) => c.label), ['person']);
  assert.equal((await getStats(h, 'predictions/stats', { service: 'classification' })).status, 422);

  for (const probability of [0, 1.5, 'half', -1]) {
    const res = await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 950), width: 8, height: 8, champion: det([0], [0.5]) as never, latencyS: 0.02, customMetadata: { edgewatch: { sampling: { probability } } } }));
    assert.equal(res.status, 422, `${probability}: ${res.text}`);
    assert.equal(res.json.field, 'custom_metadata.edgewatch.sampling.probability');
  }
});
