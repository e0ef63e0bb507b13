/**
 * Issues 10 and 11: the SDK's `REVIEWS_*` services (`GET …/predictions/stats` with `classification`,
 * `label_distribution`) answer with the reviews as ground truth, per model version: reviewed count, accuracy weighted by
 * stratum (agreements, disagreements, no shadow) and sampling probability with its Wilson interval, per-label precision
 * and recall, confusion counts; `model_id`, the time window and `tags` honoured. Queries built as the SDK 6.28.1 builds
 * them; both stores (SQLite and a throwaway PostgreSQL).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseSdkQuery } from '../../src/server/aggregates/sdk-query.js';
import { withReviews } from '../../src/server/aggregates/sdk-reviews.js';
import type { ServerContext } from '../../src/server/context.js';
import { HttpError } from '../../src/server/http-util.js';
import type { DeploymentInfo } from '../../src/server/index.js';
import { openSqliteRegistry } from '../../src/server/registry/services.js';
import { wilson } from '../../src/server/verdict/interval-math.js';
import { platform } from './registry-sdk.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, type Handshake, type HttpResult } from './sdk.js';
import { testOnBothStores, type StoreBackend } from '../helpers/postgres.js';

const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';
const V3 = '33333333-3333-4333-8333-333333333333';
const CAT = 0;
const DOG = 1;

function getStats(h: Handshake, path: 'stats' | 'predictions/stats', params: Record<string, string | number | string[] | undefined>): Promise<HttpResult> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) for (const x of Array.isArray(v) ? v : [v]) q.append(k, String(x));
  return httpRequest(`${h.oracleHost}/api/deployment/${h.deploymentId}/${path}?${q}`, { headers: { authorization: `Bearer ${h.jwt}`, 'user-agent': 'Picsellia-SDK/6.28.1' } });
}

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-5, `${what}: ${actual} vs ${expected}`);

// A minute apart from an hour ago. 0..11: champion V1, shadow V2; 0..7 agree (cat/cat), 8..11 disagree (cat/dog).
// 12: V1 alone (cat, no shadow). 13, 14: after a promotion, champion V2 and shadow V3 agree (dog/dog), sampling 0.5.
// Tags: "even" / "odd" by index. Reviews: 0 cat, 1 dog (agreements: both right, both wrong); 8, 9, 10 dog (shadow
// right); 11 cat (champion right); 13 dog.
const NOW_S = Math.floor(Date.now() / 1000 / 60) * 60;
const T0 = NOW_S - 3600;
const REVIEWS: Record<number, string> = { 0: 'cat', 1: 'dog', 8: 'dog', 9: 'dog', 10: 'dog', 11: 'cat', 13: 'dog' };

async function fill(t: TestContext, backend: { database?: string }) {
  const { server } = await startTestServer(t, { ...backend, labels: ['cat', 'dog', 'bird'] });
  const d = server.organizations[0]?.deployments[0] as DeploymentInfo;
  const h = await sdkHandshake(server.url, server.token);
  const p = platform(server.url, server.token, h.organizationId);
  for (let i = 0; i < 15; i++) {
    d.championVersionId = i < 13 ? V1 : V2;
    d.shadowVersionId = i < 13 ? V2 : V3;
    const champion = i < 13 ? CAT : DOG;
    const shadow = i === 12 ? null : i >= 8 && i <= 11 ? DOG : champion;
    const res = await postMonitor(h, monitorBody({
      image: await makeJpeg(8, 8, 800 + i),
      width: 8,
      height: 8,
      champion: classification(champion, 0.9),
      latencyS: 0.01,
      ...(shadow === null ? {} : { shadow: classification(shadow, 0.8), shadowLatencyS: 0.02 }),
      timestamp: T0 + 60 * i + 5,
      tags: [i % 2 === 0 ? 'even' : 'odd'],
      ...(i >= 13 ? { customMetadata: { edgewatch: { imageId: `img-${i}`, sampling: { probability: 0.5 } } } } : {}),
    }));
    assert.equal(res.status, 201, res.text);
    const label = REVIEWS[i];
    if (label !== undefined) {
      const review = await p.post(`/api/predicted/asset/${res.json.id}/reviews`, { classifications: [{ label }] });
      assert.equal(review.status, 201, review.text);
    }
  }
  return { h };
}

type Entry = { role: string; model_id: string; reviews: Record<string, any> };
const entry = (models: Entry[], role: string, id: string) => models.find((m) => m.role === role && m.model_id === id) as Entry;

async function cases(t: TestContext, on: StoreBackend): Promise<void> {
  await t.test('classification: per model version, accuracy weighted by stratum with its interval, precision/recall per label, confusion counts', async (t) => {
    const { h } = await fill(t, await on(t));
    const res = await getStats(h, 'predictions/stats', { service: 'classification' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.reviews.count, 7);
    assert.equal(res.json.reviews.limit, 20_000);
    assert.match(res.json.reviews.method, /stratum/);
    assert.deepEqual(
      res.json.traffic.filter((s: { champion_model_id: string }) => s.champion_model_id === V1).sort((a: { kind: string }, b: { kind: string }) => a.kind.localeCompare(b.kind)),
      [
        { champion_model_id: V1, shadow_model_id: V2, kind: 'agreement', stored: 8, estimated: 8 },
        { champion_model_id: V1, shadow_model_id: V2, kind: 'disagreement', stored: 4, estimated: 4 },
        { champion_model_id: V1, shadow_model_id: null, kind: 'unpaired', stored: 1, estimated: 1 },
      ],
    );
    // Champion V1: agreements 1 right of 2 reviewed (8 predictions: weight 4 each), disagreements 1 of 4 (weight 1):
    // (8 x 0.5 + 4 x 0.25) / 12; the unreviewed prediction without a shadow is outside what the estimate covers.
    const c1 = entry(res.json.models, 'champion', V1).reviews;
    assert.equal(c1.reviewed, 6);
    assert.equal(c1.right, 2);
    close(c1.accuracy.estimate, 5 / 12, 'champion accuracy');
    close(c1.accuracy.effective_reviews, 4, 'Kish n: 12^2 / (2 x 16 + 4 x 1)');
    const ci = wilson(5 / 12, 4);
    close(c1.accuracy.low, ci.low, 'low');
    close(c1.accuracy.high, ci.high, 'high');
    close(c1.accuracy.covers, 12 / 13, 'covers');
    assert.deepEqual(c1.classes.map((c: Record<string, unknown>) => [c.label, c.predicted, c.reviewed_as, c.true_positives]), [['cat', 6, 2, 2], ['dog', 0, 4, 0]]);
    close(c1.classes[0].precision, 5 / 12, 'cat precision (weighted)');
    assert.equal(c1.classes[0].recall, 1);
    assert.equal(c1.classes[1].precision, null, 'nothing predicted dog');
    assert.equal(c1.classes[1].recall, 0);
    assert.deepEqual(c1.confusion, { rows: 'review', columns: 'prediction', labels: ['cat', 'dog'], matrix: [[2, 0], [4, 0]] });
    // Shadow V2 on the same reviews: 1 of 2 agreements, 3 of 4 disagreements.
    const s2 = entry(res.json.models, 'shadow', V2).reviews;
    assert.equal(s2.reviewed, 6);
    close(s2.accuracy.estimate, 7 / 12, 'shadow accuracy');
    close(s2.accuracy.covers, 1, 'the shadow has no prediction without a review stratum');
    assert.deepEqual(s2.confusion.matrix, [[1, 1], [1, 3]]);
    // After the promotion, sampled at 0.5: one review stands for the 4 estimated predictions of its stratum.
    const c2 = entry(res.json.models, 'champion', V2).reviews;
    assert.deepEqual([c2.reviewed, c2.right, c2.accuracy.estimate, c2.accuracy.effective_reviews, c2.accuracy.covers], [1, 1, 1, 1, 1]);
    const s3 = entry(res.json.models, 'shadow', V3).reviews;
    assert.equal(s3.reviewed, 1);
  });

  await t.test('model_id, the time window and tags select the reviews as they select the traffic; label_distribution gives the reviewed labels', async (t) => {
    const { h } = await fill(t, await on(t));
    const v2 = await getStats(h, 'predictions/stats', { service: 'classification', model_id: V2 });
    assert.equal(v2.status, 200, v2.text);
    assert.deepEqual(v2.json.models.map((m: Entry) => [m.role, m.model_id, m.reviews.reviewed]), [['champion', V2, 1], ['shadow', V2, 6]]);
    assert.equal((await getStats(h, 'predictions/stats', { service: 'classification', model_id: V3 })).json.models[0].reviews.reviewed, 1);

    // Before the disagreements (i < 8; the window is rounded out to whole minutes): agreements only, 1 right of 2.
    const early = await getStats(h, 'predictions/stats', { service: 'classification', model_id: V1, from_timestamp: T0, to_timestamp: T0 + 60 * 8 - 1 });
    assert.equal(early.json.reviews.count, 2);
    const e1 = entry(early.json.models, 'champion', V1).reviews;
    assert.deepEqual([e1.reviewed, e1.right, e1.accuracy.estimate, e1.accuracy.covers], [2, 1, 0.5, 1]);
    const recent = await getStats(h, 'predictions/stats', { service: 'classification', since: Math.round(Date.now() / 1000 - (T0 + 60 * 13)) });
    assert.equal(recent.json.reviews.count, 1, 'since: the review of i = 13 only');

    // Even tags: agreements 0, 2, 4, 6 (i = 0 reviewed, right), disagreements 8, 10 (both reviewed, champion wrong), 12 unreviewed.
    const even = await getStats(h, 'predictions/stats', { service: 'classification', model_id: V1, tags: ['even'] });
    const ev = entry(even.json.models, 'champion', V1).reviews;
    assert.deepEqual([ev.reviewed, ev.right], [3, 1]);
    close(ev.accuracy.estimate, 4 / 6, 'even: (4 x 1 + 2 x 0) / 6');
    close(ev.accuracy.covers, 6 / 7, 'even covers');
    assert.equal((await getStats(h, 'predictions/stats', { service: 'classification', tags: ['none-such'] })).json.reviews.count, 0);
    const onlyDog = await getStats(h, 'predictions/stats', { service: 'classification', model_id: V1, includes: ['dog'] });
    assert.deepEqual(entry(onlyDog.json.models, 'champion', V1).reviews.classes.map((c: { label: string }) => c.label), ['dog']);

    const dist = await getStats(h, 'predictions/stats', { service: 'label_distribution', model_id: V1 });
    assert.equal(dist.status, 200, dist.text);
    const labels = entry(dist.json.models, 'champion', V1).reviews.labels;
    assert.deepEqual(labels.map((l: Record<string, unknown>) => [l.label, l.reviewed_as, l.predicted]), [['cat', 2, 6], ['dog', 4, 0]]);
    close(labels[0].share, 5 / 12, 'cat share of the reviewed truth (weighted)');
    close(labels[1].share, 7 / 12, 'dog share');
    const aggregated = await getStats(h, 'stats', { service: 'label_distribution' });
    assert.equal(aggregated.status, 200);
    assert.equal(aggregated.json.reviews, undefined, 'the aggregated services stay on the aggregates alone');
    assert.equal(aggregated.json.models[0].reviews, undefined);
  });

  await t.test('no review yet: counts are zero and accuracy is null, never a made-up number', async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), labels: ['cat', 'dog'] });
    const h = await sdkHandshake(server.url, server.token);
    const res = await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 901), width: 8, height: 8, champion: classification(0, 0.9), latencyS: 0.01, shadow: classification(1, 0.8), shadowLatencyS: 0.02 }));
    assert.equal(res.status, 201, res.text);
    const stats = await getStats(h, 'predictions/stats', { service: 'classification' });
    assert.equal(stats.json.reviews.count, 0);
    for (const m of stats.json.models) assert.deepEqual([m.reviews.reviewed, m.reviews.accuracy, m.reviews.classes], [0, null, []]);
  });
}

testOnBothStores(cases);

test('a window holding more reviews than one call reads answers 422 naming from_timestamp; a narrower window answers', async (t) => {
  const { server, dataDir } = await startTestServer(t, { labels: ['cat', 'dog'] });
  const h = await sdkHandshake(server.url, server.token);
  const p = platform(server.url, server.token, h.organizationId);
  for (let i = 0; i < 3; i++) {
    const res = await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 950 + i), width: 8, height: 8, champion: classification(0, 0.9), latencyS: 0.01, timestamp: T0 + 600 * i + 5 }));
    assert.equal(res.status, 201, res.text);
    assert.equal((await p.post(`/api/predicted/asset/${res.json.id}/reviews`, { classifications: [{ label: 'cat' }] })).status, 201);
  }
  // The route's own reads, with a bound of 2 instead of 20,000, on the service's database.
  const registry = openSqliteRegistry(join(dataDir, 'monitoring.db'));
  t.after(() => registry.close());
  const ctx = { registry: { reviews: { reviewedPage: async (...a: Parameters<typeof registry.reviews.reviewedPage>) => registry.reviews.reviewedPage(...a) }, models: { getVersion: async () => undefined } } } as unknown as Pick<ServerContext, 'registry'>;
  const d = server.organizations[0]?.deployments[0] as DeploymentInfo;
  const query = (params: string) => parseSdkQuery(new URL(`http://x/?service=classification&${params}`), 'predictions', Date.now() / 1000);
  const body = { models: [{ role: 'champion', model_id: null }], traffic: [] };
  await assert.rejects(withReviews(ctx, d, query(''), body, 2), (e: unknown) => e instanceof HttpError && e.status === 422 && (e.body as { field?: string }).field === 'from_timestamp' && /narrow it/.test(e.message));
  const narrow = (await withReviews(ctx, d, query(`from_timestamp=${T0}&to_timestamp=${T0 + 1000}`), body, 2)) as { reviews: { count: number } };
  assert.equal(narrow.reviews.count, 2);
  const paged = (await withReviews(ctx, d, query(''), body, 3, 1)) as { reviews: { count: number }; models: { reviews: { reviewed: number; right: number } }[] };
  assert.equal(paged.reviews.count, 3, 'read one review a page: every page, none twice');
  assert.deepEqual(paged.models[0]?.reviews && [paged.models[0].reviews.reviewed, paged.models[0].reviews.right], [3, 3]);
});
