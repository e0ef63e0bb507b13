/** Predicted assets, reviews and the verdict of `serve`, driven as the Picsellia SDK 6.28.1 sends them; retention keeps reviewed predictions; dashboard write access. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { platform } from './registry-sdk.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir, type Handshake } from './sdk.js';
import { testOnBothStores, type StoreBackend } from '../helpers/postgres.js';

const DAY_S = 86_400;
let seed = 7000;

/** Monitors one image with champion class `c` and shadow class `s`; returns the prediction id. */
async function predict(h: Handshake, c: number, s: number | null, extra: { filename?: string; timestamp?: number; customMetadata?: Record<string, unknown> } = {}): Promise<string> {
  const image = await makeJpeg(32, 24, (seed += 1));
  const res = await postMonitor(h, monitorBody({ image, width: 32, height: 24, champion: classification(c, 0.8), latencyS: 0.01, ...(s === null ? {} : { shadow: classification(s, 0.7) }), ...extra }));
  assert.equal(res.status, 201, res.text);
  return res.json.id as string;
}

/** Two model versions set as champion and shadow of the demo deployment. */
async function champions(p: ReturnType<typeof platform>, organizationId: string, deploymentId: string) {
  const model = await p.post(`/api/organization/${organizationId}/models`, { name: 'm' });
  const labels = { '0': 'cat', '1': 'dog', '2': 'bird' };
  const v1 = (await p.post(`/api/model/${model.json.id}/versions`, { type: 'CLASSIFICATION', labels })).json.id as string;
  const v2 = (await p.post(`/api/model/${model.json.id}/versions`, { type: 'CLASSIFICATION', labels })).json.id as string;
  assert.equal((await p.post(`/api/deployment/${deploymentId}/model`, { model_version_id: v1 })).status, 200);
  assert.equal((await p.post(`/api/deployment/${deploymentId}/shadow`, { model_version_id: v2 })).status, 200);
  return { v1, v2 };
}

/** The cases run on both stores. */
async function cases(t: TestContext, on: StoreBackend): Promise<void> {
  await t.test('predicted assets: list (SDK query), find, sync shape with is_shadow and model versions, image by presigned URL', async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), labels: ['cat', 'dog', 'bird'] });
    const h = await sdkHandshake(server.url, server.token);
    const p = platform(server.url, server.token, h.organizationId);
    const { v1, v2 } = await champions(p, h.organizationId, h.deploymentId);
    const agree = await predict(h, 0, 0, { filename: 'a.jpg' });
    const disagree = await predict(h, 0, 1, { filename: 'b.jpg' });
    const alone = await predict(h, 2, null, { filename: 'c.jpg' });

    const sdkQuery = 'limit=1000&offset=0&upload_statuses=PENDING&upload_statuses=COMPUTING&upload_statuses=DONE&upload_statuses=ERROR&types=IMAGE&types=VIDEO';
    const all = await p.get(`/api/deployment/${h.deploymentId}/predictedassets?${sdkQuery}`);
    assert.equal(all.status, 200, all.text);
    assert.equal(all.json.count, 3);
    assert.deepEqual(all.json.items.map((i: { id: string }) => i.id), [alone, disagree, agree], 'newest first by default');
    const page = await p.get(`/api/deployment/${h.deploymentId}/predictedassets?limit=1&offset=1&order_by=created_at`);
    assert.deepEqual([page.json.count, page.json.items[0].id], [3, disagree]);
    const queue = await p.get(`/api/deployment/${h.deploymentId}/predictedassets?order_by=disagreements_first&review_status=TO_REVIEW&period=current`);
    assert.equal(queue.json.items[0].id, disagree, 'the review queue shows disagreements first');
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/predictedassets?q=b.j`)).json.count, 1);
    assert.deepEqual((await p.get(`/api/deployment/${h.deploymentId}/predictedassets?paired=false`)).json.items.map((i: { id: string }) => i.id), [alone]);
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/predictedassets?agreement=true`)).json.items[0].id, agree);
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/predictedassets?paired=maybe`)).json.field, 'paired');
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/predictedassets?order_by=color`)).json.field, 'order_by');
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/predictedassets?limit=-1`)).json.field, 'limit');

    const found = await p.get(`/api/deployment/${h.deploymentId}/predictedassets/find?oracle_prediction_id=${disagree}`);
    assert.equal(found.json.id, disagree);
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/predictedassets/find?filename=c.jpg`)).json.id, alone);
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/predictedassets/find?filename=zzz.jpg`)).status, 404);

    const asset = await p.get(`/api/predicted/asset/${disagree}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.json.oracle_prediction_id, disagree);
    const data = asset.json.data;
    assert.deepEqual([data.id, data.filename, data.type, data.content_type, data.upload_status, data.meta], [disagree, 'b.jpg', 'IMAGE', 'image/jpeg', 'DONE', { width: 32, height: 24 }]);
    assert.equal(typeof data.object_name, 'string');
    const champion = asset.json.predictions.find((x: { is_shadow: boolean }) => !x.is_shadow);
    const shadow = asset.json.predictions.find((x: { is_shadow: boolean }) => x.is_shadow);
    assert.deepEqual([champion.model_version_id, champion.label, shadow.model_version_id, shadow.label], [v1, 'cat', v2, 'dog']);
    assert.deepEqual(champion.raw_predictions, classification(0, 0.8));
    assert.deepEqual(asset.json.reviews, []);
    assert.equal((await p.get(`/api/predicted/asset/${alone}`)).json.predictions.length, 1);
    const image = await httpRequest(data.presigned_url);
    assert.equal(image.status, 200, 'the image is served to its presigned URL without the token');
    assert.equal(image.headers['content-type'], 'image/jpeg');
    assert.equal((await httpRequest(`${server.url}/api/predicted/asset/${disagree}`)).status, 401);
    assert.equal((await p.get('/api/predicted/asset/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  await t.test('reviews: add_review bodies, labels by name checked against the deployment, one review per asset; the verdict; a promotion starts a new period', async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), labels: ['cat', 'dog', 'bird'] });
    const h = await sdkHandshake(server.url, server.token);
    const p = platform(server.url, server.token, h.organizationId);
    const { v2 } = await champions(p, h.organizationId, h.deploymentId);
    const ids = { agree: await predict(h, 0, 0), d1: await predict(h, 0, 1), d2: await predict(h, 1, 2), d3: await predict(h, 2, 0) };
    const review = (id: string, body: unknown) => p.post(`/api/predicted/asset/${id}/reviews`, body);

    const unknownLabel = await review(ids.d1, { classifications: [{ label: 'horse' }] });
    assert.equal(unknownLabel.status, 422);
    assert.equal(unknownLabel.json.field, 'classifications.0.label');
    assert.match(unknownLabel.json.message, /horse.*not a label/);
    const outside = await review(ids.d1, { rectangles: [{ x: 30, y: 0, w: 10, h: 5, label: 'dog' }] });
    assert.equal(outside.json.field, 'rectangles.0');
    const badPolygon = await review(ids.d1, { polygons: [{ polygon: [[0, 0], [40, 0], [0, 5]], label: 'dog' }] });
    assert.equal(badPolygon.json.field, 'polygons.0.polygon.1');
    const wrongType = await review(ids.d1, { classifications: [{ label: 3 }] });
    assert.equal(wrongType.status, 422);
    assert.equal(wrongType.json.field, 'classifications.0.label');
    const notJson = await httpRequest(`${server.url}/api/predicted/asset/${ids.d1}/reviews`, { method: 'POST', headers: { authorization: `Bearer ${server.token}` }, body: '{' });
    assert.equal(notJson.status, 400);

    // Shadow right on d1 and d2, champion right on d3, both right on the agreement.
    const ok = await review(ids.d1, { classifications: [{ label: 'dog' }], rectangles: [{ x: 1, y: 2, w: 10, h: 5, label: 'dog' }], polygons: [{ polygon: [[0, 0], [4, 0], [0, 4]], label: 'dog' }] });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await review(ids.d1, { classifications: [{ label: 'cat' }] })).status, 409, 'a review cannot be changed');
    assert.equal((await review(ids.d2, { classifications: [{ label: 'bird' }] })).status, 201);
    assert.equal((await review(ids.d3, { classifications: [{ label: 'bird' }] })).status, 201);
    assert.equal((await review(ids.agree, { classifications: [{ label: 'cat' }] })).status, 201);
    const synced = await p.get(`/api/predicted/asset/${ids.d1}`);
    assert.deepEqual(synced.json.reviews.at(-1).classifications, [{ label: 'dog' }]);
    assert.equal(synced.json.review_status, 'REVIEWED');
    const toReview = await p.get(`/api/deployment/${h.deploymentId}/predictedassets?review_status=TO_REVIEW`);
    assert.equal(toReview.json.count, 0);

    const verdict = await p.get(`/api/deployment/${h.deploymentId}/verdict`);
    assert.equal(verdict.status, 200);
    assert.deepEqual(verdict.json.traffic, { paired: 4, agreements: 1, disagreements: 3 });
    assert.deepEqual([verdict.json.paired.onlyShadowRight, verdict.json.paired.onlyChampionRight, verdict.json.paired.neitherRight], [2, 1, 0]);
    assert.equal(verdict.json.champion.accuracy, 0.5);
    assert.equal(verdict.json.shadow.accuracy, 0.75);
    assert.equal(verdict.json.settled, false);
    assert.match(verdict.json.sentence, /^not settled: about \d+ more reviews of disagreements/);
    assert.equal(verdict.json.period.shadow.id, v2);

    // Promote: the shadow becomes champion, the shadow slot is empty, and the comparison starts again.
    const promoted = await p.post(`/api/deployment/${h.deploymentId}/promote`, {});
    assert.deepEqual([promoted.json.model_version_id, promoted.json.shadow_model_version_id], [v2, null]);
    const after = await p.get(`/api/deployment/${h.deploymentId}/verdict`);
    assert.deepEqual(after.json.traffic, { paired: 0, agreements: 0, disagreements: 0 });
    assert.equal(after.json.period.reason, 'promote');
    // The period the promotion ended keeps its verdict, judged with its own pair.
    const previous = after.json.periods.at(-2);
    const before = await p.get(`/api/deployment/${h.deploymentId}/verdict?period=${previous.seq}`);
    assert.deepEqual(before.json.traffic, { paired: 4, agreements: 1, disagreements: 3 });
    assert.equal(before.json.sentence, verdict.json.sentence);
    assert.equal(before.json.period.until, after.json.period.since);
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/verdict?period=x`)).json.field, 'period');
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/verdict?period=999`)).status, 404);
    const next = await predict(h, 1, null);
    const credited = await p.get(`/api/predicted/asset/${next}`);
    assert.equal(credited.json.predictions[0].model_version_id, v2, 'predictions after the promotion are credited to the new champion');
  });

  await t.test("a prediction whose agent says other versions ran is credited to the deployment's pair but does not judge it", async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), labels: ['cat', 'dog', 'bird'] });
    const h = await sdkHandshake(server.url, server.token);
    const p = platform(server.url, server.token, h.organizationId);
    const { v1, v2 } = await champions(p, h.organizationId, h.deploymentId);
    const ran = (champion: string, shadow: string) => ({ edgewatch: { champion: { name: 'm', hash: 'h', modelVersionId: champion }, shadow: { name: 'm', hash: 'h', modelVersionId: shadow } } });
    const current = await predict(h, 0, 1, { customMetadata: ran(v1, v2) });
    const plain = await predict(h, 0, 1);
    const stale = await predict(h, 0, 1, { customMetadata: ran('0d3ff593-0000-4000-8000-000000000000', v2) });
    const queue = await p.get(`/api/deployment/${h.deploymentId}/predictedassets?order_by=disagreements_first&review_status=TO_REVIEW&period=current`);
    assert.deepEqual(queue.json.items.map((i: { id: string }) => i.id).sort(), [current, plain].sort());
    for (const id of [current, plain, stale]) assert.equal((await p.post(`/api/predicted/asset/${id}/reviews`, { classifications: [{ label: 'dog' }] })).status, 201);
    const verdict = await p.get(`/api/deployment/${h.deploymentId}/verdict`);
    assert.deepEqual(verdict.json.traffic, { paired: 2, agreements: 0, disagreements: 2 });
    assert.equal(verdict.json.paired.onlyShadowRight, 2);
    assert.equal((await p.get(`/api/predicted/asset/${stale}`)).json.predictions[0].model_version_id, v1, 'credited as the protocol says');
  });

  await t.test('detection deployments: boxes and polygons reviews are accepted, no verdict is made of top-1 labels', async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), deployment: ['cams:OBJECT_DETECTION'], labels: ['car', 'person'] });
    const h = await sdkHandshake(server.url, server.token, 'edge', 'cams');
    const p = platform(server.url, server.token, h.organizationId);
    const box = (c: number) => ({ detection_classes: [c], detection_scores: [0.9], detection_texts: null, detection_boxes: [[2, 3, 10, 20]] });
    const image = await makeJpeg(32, 24, 4242);
    const res = await postMonitor(h, { ...monitorBody({ image, width: 32, height: 24, champion: box(0), latencyS: 0.01, shadow: box(1) }) });
    assert.equal(res.status, 201, res.text);
    const review = await p.post(`/api/predicted/asset/${res.json.id}/reviews`, { rectangles: [{ x: 3, y: 2, w: 17, h: 8, label: 'person' }], polygons: [{ polygon: [[1, 1], [5, 1], [5, 5]], label: 'car' }] });
    assert.equal(review.status, 201, review.text);
    const verdict = await p.get(`/api/deployment/${h.deploymentId}/verdict`);
    assert.equal(verdict.json.supported, false);
    assert.match(verdict.json.sentence, /^no verdict: reviews of OBJECT_DETECTION deployments are stored/);
  });

  await t.test('retention never deletes a reviewed prediction (nor its image); others go as before', async (t) => {
    const { server, dataDir } = await startTestServer(t, { ...(await on(t)), labels: ['cat', 'dog'], retainDays: 30 });
    const h = await sdkHandshake(server.url, server.token);
    const p = platform(server.url, server.token, h.organizationId);
    const now = Date.now() / 1000;
    const reviewed = await predict(h, 0, 1, { timestamp: now - 40 * DAY_S });
    const old = await predict(h, 0, 1, { timestamp: now - 41 * DAY_S });
    const fresh = await predict(h, 0, 1);
    assert.equal((await p.post(`/api/predicted/asset/${reviewed}/reviews`, { classifications: [{ label: 'dog' }] })).status, 201);
    const result = await server.retention.run();
    assert.equal(result.deletedByAge, 1);
    assert.equal(await server.store.get(old), undefined);
    assert.ok((await server.store.get(reviewed)) && (await server.store.get(fresh)));
    const image = await httpRequest((await p.get(`/api/predicted/asset/${reviewed}`)).json.data.presigned_url);
    assert.equal(image.status, 200, `the reviewed image stays in ${dataDir}`);
    // Whoever deletes: the database refuses to delete a reviewed row.
    assert.equal(await server.store.deleteMany([reviewed]), 0);
    assert.ok(await server.store.get(reviewed));
    assert.equal((await server.retention.run()).deletedByAge, 0, 'a second pass finds nothing and does not loop on the reviewed row');
  });

  await t.test('retention by size stops at reviewed predictions even when they alone exceed the cap', async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), labels: ['cat', 'dog'], retainGb: 1e-9 });
    const h = await sdkHandshake(server.url, server.token);
    const p = platform(server.url, server.token, h.organizationId);
    const reviewed = [await predict(h, 0, 1), await predict(h, 1, 0)];
    const others = [await predict(h, 0, 0), await predict(h, 1, 1)];
    for (const id of reviewed) assert.equal((await p.post(`/api/predicted/asset/${id}/reviews`, { classifications: [{ label: 'dog' }] })).status, 201);
    const result = await server.retention.run();
    assert.equal(result.deletedBySize, 2);
    for (const id of others) assert.equal(await server.store.get(id), undefined);
    for (const id of reviewed) assert.ok(await server.store.get(id));
    assert.equal((await server.retention.run()).deletedBySize, 0, 'over the cap with reviewed rows only: the pass ends');
  });

  await t.test('dashboard write access: a session opened with the token writes with the header and its own Origin; the link session reads only', async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), labels: ['cat', 'dog'] });
    const h = await sdkHandshake(server.url, server.token);
    const id = await predict(h, 0, 1);
    const signIn = async (body: unknown) => {
      const res = await httpRequest(`${server.url}/api/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200);
      return String(res.headers['set-cookie']).split(';')[0] as string;
    };
    const reader = await signIn({ key: new URL(server.dashboardUrl).hash.replace('#key=', '') });
    const writer = await signIn({ token: server.token });
    const post = (cookie: string, headers: Record<string, string>) =>
      httpRequest(`${server.url}/api/predicted/asset/${id}/reviews`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ classifications: [{ label: 'dog' }] }) });
    assert.equal((await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/verdict`, { headers: { cookie: reader } })).status, 200, 'the link session reads the verdict');
    const readOnly = await post(reader, { 'x-edgewatch-write': '1', origin: server.url });
    assert.equal(readOnly.status, 403);
    assert.match(readOnly.json.message, /read-only/);
    assert.equal((await post(writer, { origin: server.url })).status, 403, 'no header: a cross-site form');
    assert.equal((await post(writer, { 'x-edgewatch-write': '1', origin: 'http://evil.example' })).status, 403);
    assert.equal((await post('ew_session=forged', { 'x-edgewatch-write': '1' })).status, 401);
    assert.equal((await post(writer, { 'x-edgewatch-write': '1', origin: server.url })).status, 201);
    assert.equal((await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/promote`, { method: 'POST', headers: { cookie: reader, 'x-edgewatch-write': '1' }, body: '{}' })).status, 403);
  });

  await t.test('verdict counters: a late shadow counts when it arrives, retention takes its rows out, a database from before the counters is counted once at start', async (t) => {
    const dataDir = await tempDir(t);
    const token = 'counters-test-token';
    const first = await startTestServer(t, { ...(await on(t)), dataDir, token, labels: ['cat', 'dog', 'bird'], retainDays: 30 });
    const h = await sdkHandshake(first.server.url, token);
    const p = platform(first.server.url, token, h.organizationId);
    await champions(p, h.organizationId, h.deploymentId);
    const traffic = async (api = p) => (await api.get(`/api/deployment/${h.deploymentId}/verdict`)).json.traffic;
    const late = await predict(h, 0, null);
    await predict(h, 1, 1);
    const old = await predict(h, 2, 0, { timestamp: Date.now() / 1000 - 40 * DAY_S });
    assert.deepEqual(await traffic(), { paired: 2, agreements: 1, disagreements: 1 });
    const shadow = await httpRequest(`${h.oracleHost}/api/prediction/${late}/shadow`, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}` }, body: JSON.stringify({ shadow_raw_predictions: classification(2, 0.6), shadow_latency: 0.02 }) });
    assert.equal(shadow.status, 201, shadow.text);
    assert.deepEqual(await traffic(), { paired: 3, agreements: 1, disagreements: 2 });
    const queue = await p.get(`/api/deployment/${h.deploymentId}/predictedassets?order_by=disagreements_first&review_status=TO_REVIEW&period=current&paired=true`);
    assert.deepEqual(queue.json.items.slice(0, 2).map((i: { id: string }) => i.id).sort(), [late, old].sort());
    assert.equal(queue.json.count, 3);
    assert.equal((await first.server.retention.run()).deletedByAge, 1);
    assert.deepEqual(await traffic(), { paired: 2, agreements: 1, disagreements: 1 });
    assert.equal((await p.get(`/api/deployment/${h.deploymentId}/predictedassets?order_by=disagreements_first&review_status=TO_REVIEW&period=current&paired=true`)).json.items[0].id, late);
    await first.server.close();

    // A database from before the counters: no counter tables, no triggers, no mark.
    const { database } = await on(t);
    if (database === undefined) {
      const db = new Database(join(dataDir, 'monitoring.db'));
      db.exec(`DROP TRIGGER period_traffic_insert; DROP TRIGGER period_traffic_late_shadow; DROP TRIGGER period_traffic_delete;
        DROP TRIGGER period_disagreements_insert; DROP TRIGGER period_disagreements_late_shadow; DROP TRIGGER period_disagreements_delete;
        DROP TABLE period_traffic; DROP TABLE period_disagreements; DELETE FROM registry_meta WHERE key = 'period_traffic'`);
      db.close();
    } else {
      const client = new pg.Client({ connectionString: database });
      await client.connect();
      await client.query(`DROP TRIGGER period_traffic_insert ON predictions; DROP TRIGGER period_traffic_late_shadow ON predictions; DROP TRIGGER period_traffic_delete ON predictions;
        DROP TABLE period_traffic; DROP TABLE period_disagreements; DELETE FROM registry_meta WHERE key = 'period_traffic'`);
      await client.end();
    }
    const second = await startTestServer(t, { ...(await on(t)), dataDir, token });
    assert.deepEqual(await traffic(platform(second.server.url, token, h.organizationId)), { paired: 2, agreements: 1, disagreements: 1 });
    await second.server.close();
    const third = await startTestServer(t, { ...(await on(t)), dataDir, token });
    assert.deepEqual(await traffic(platform(third.server.url, token, h.organizationId)), { paired: 2, agreements: 1, disagreements: 1 }, 'counted once, not at every start');
  });
}

testOnBothStores(cases);







