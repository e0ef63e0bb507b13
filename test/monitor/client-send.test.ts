/** Tests of PicselliaClient sends: JWT reuse and re-login, every response class, transport faults, close. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { buildMonitorBody, serializeMonitorBody } from '../../src/monitor/monitor-body.js';
import type { PicselliaClientOptions } from '../../src/monitor/picsellia-client.js';
import { startFakePicsellia, times, type FakePicselliaOptions } from '../helpers/fake-picsellia.js';
import { clientFor, fakeAndClient, makeJpeg, sampleInput } from './sample-body.js';

const jpeg = await makeJpeg();
const body = (imageId: string) => buildMonitorBody(sampleInput(jpeg, imageId));

async function setup(t: TestContext, options: FakePicselliaOptions = {}, clientOptions: Partial<PicselliaClientOptions> = {}) {
  const { fake, client } = await fakeAndClient(t, options, clientOptions);
  await client.resolve();
  return { fake, client };
}

test('delivered: 201 with the id; one login for many sends; exact request', async (t) => {
  const { fake, client } = await setup(t);
  const outcomes = [];
  for (let i = 0; i < 5; i++) outcomes.push(await client.sendPrediction(body(`img-${i}`)));
  assert.deepEqual(outcomes.map((o) => o.kind), times(5, 'delivered' as never));
  assert.deepEqual(outcomes.map((o) => (o.kind === 'delivered' ? o.id : null)), fake.predictions.map((p) => p.id));
  assert.equal(fake.requestsOf('login').length, 1);
  const sent = fake.requestsOf('predictions');
  assert.equal(sent.length, 5);
  const jwt = fake.issuedJwts[0]!;
  for (const r of sent) {
    assert.equal(r.path, `/api/deployment/${fake.state.deployment.id}/predictions`);
    assert.equal(r.headers.authorization, `Bearer ${jwt}`);
    assert.equal(r.headers['user-agent'], 'edgewatch/0.1.0 test');
    assert.equal(r.headers['content-type'], 'application/json');
  }
  assert.ok(fake.predictions[0]!.image.equals(jpeg));
  assert.deepEqual(fake.violations, []);
});

test('the raw bytes received are the serialised body: key order and types', async (t) => {
  const { fake, client } = await setup(t);
  const b = body('order-1');
  await client.sendPrediction(b);
  const raw = fake.predictions[0]!.raw;
  assert.ok(raw.equals(serializeMonitorBody(b)));
  const parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), [
    'filename', 'content_type', 'height', 'width', 'raw_predictions', 'latency', 'source', 'tags',
    'custom_metadata', 'timestamp', 'shadow_latency', 'shadow_raw_predictions', 'image',
  ]);
  assert.equal(typeof parsed.latency, 'number');
  assert.equal(typeof parsed.timestamp, 'number');
  assert.equal(Number.isInteger(parsed.width), true);
  assert.deepEqual(Object.keys(parsed.raw_predictions as object), ['detection_classes', 'detection_texts', 'detection_scores']);
  assert.equal((parsed.raw_predictions as { detection_texts: unknown }).detection_texts, null);
  assert.equal(fake.predictions[0]!.imageId, 'order-1');
});

test('persisted bytes are sent unchanged', async (t) => {
  const { fake, client } = await setup(t);
  const bytes = serializeMonitorBody(body('bytes-1'));
  assert.equal((await client.sendPrediction(bytes)).kind, 'delivered');
  assert.ok(fake.predictions[0]!.raw.equals(bytes));
});

test('401 once: one re-login, replay, delivered', async (t) => {
  const { fake, client } = await setup(t);
  fake.script('predictions', { status: 401, body: { message: 'JWT expired' } });
  const outcome = await client.sendPrediction(body('a'));
  assert.equal(outcome.kind, 'delivered');
  assert.equal(fake.requestsOf('login').length, 2);
  const sent = fake.requestsOf('predictions');
  assert.equal(sent.length, 2);
  assert.equal(sent[1]!.headers.authorization, `Bearer ${fake.issuedJwts[1]}`);
  assert.equal(fake.predictions.length, 1);
  // the new JWT is reused afterwards
  assert.equal((await client.sendPrediction(body('b'))).kind, 'delivered');
  assert.equal(fake.requestsOf('login').length, 2);
  assert.deepEqual(fake.violations, []);
});

test('a JWT expired server-side is refreshed once', async (t) => {
  const { fake, client } = await setup(t);
  fake.expireJwts();
  assert.equal((await client.sendPrediction(body('a'))).kind, 'delivered');
  assert.equal(fake.requestsOf('login').length, 2);
  assert.deepEqual(fake.violations, []);
});

test('401 twice: rejected EW_MONITOR_AUTH after exactly one re-login', async (t) => {
  const { fake, client } = await setup(t);
  fake.script('predictions', ...times(2, { status: 401, body: { message: 'nope' } }));
  const outcome = await client.sendPrediction(body('a'));
  assert.equal(outcome.kind, 'rejected');
  assert.equal(outcome.kind === 'rejected' && outcome.code, 'EW_MONITOR_AUTH');
  assert.equal(outcome.kind === 'rejected' && outcome.status, 401);
  assert.equal(fake.requestsOf('login').length, 2);
  assert.equal(fake.requestsOf('predictions').length, 2);
});

test('re-login failing after a 401: retry with the login error code', async (t) => {
  const { fake, client } = await setup(t);
  fake.script('predictions', { status: 401 });
  fake.script('login', { status: 503 });
  const outcome = await client.sendPrediction(body('a'));
  assert.equal(outcome.kind, 'retry');
  assert.equal(outcome.kind === 'retry' && outcome.code, 'EW_MONITOR_HTTP');
  assert.equal(outcome.kind === 'retry' && outcome.status, 503);
  assert.equal((await client.sendPrediction(body('a'))).kind, 'delivered');
});

test('concurrent sends after expiry share one re-login', async (t) => {
  const { fake, client } = await setup(t);
  fake.expireJwts();
  const outcomes = await Promise.all(['a', 'b', 'c', 'd'].map((id) => client.sendPrediction(body(id))));
  assert.deepEqual(outcomes.map((o) => o.kind), times(4, 'delivered' as never));
  assert.equal(fake.requestsOf('login').length, 2);
  assert.deepEqual(fake.violations, []);
});

test('503 with Retry-After seconds: retry with retryAfterMs; then delivered', async (t) => {
  const { fake, client } = await setup(t);
  fake.script('predictions', { status: 503, body: { message: 'maintenance' }, headers: { 'retry-after': '7' } }, { status: 502 });
  const first = await client.sendPrediction(body('a'));
  assert.deepEqual(first, { kind: 'retry', status: 503, message: 'HTTP 503: maintenance', retryAfterMs: 7000, code: 'EW_MONITOR_HTTP' });
  const second = await client.sendPrediction(body('a'));
  assert.equal(second.kind === 'retry' && second.retryAfterMs, null);
  assert.equal((await client.sendPrediction(body('a'))).kind, 'delivered');
});

test('429 with an HTTP-date Retry-After: retry', async (t) => {
  const { fake, client } = await setup(t);
  fake.script('predictions', { status: 429, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } });
  const outcome = await client.sendPrediction(body('a'));
  assert.equal(outcome.kind, 'retry');
  assert.ok(outcome.kind === 'retry' && outcome.retryAfterMs !== null && outcome.retryAfterMs > 0 && outcome.retryAfterMs <= 60_000);
});

test('409: duplicate with the server message; a real repeat is 409 too', async (t) => {
  const { fake, client } = await setup(t);
  assert.equal((await client.sendPrediction(body('dup'))).kind, 'delivered');
  const again = await client.sendPrediction(body('dup'));
  assert.equal(again.kind, 'duplicate');
  assert.match(again.kind === 'duplicate' ? again.message : '', /already been processed/);
  fake.script('predictions', { status: 409, body: { message: 'seen it' } });
  assert.deepEqual(await client.sendPrediction(body('other')), { kind: 'duplicate', status: 409, message: 'seen it' });
});

test('422, 400, 500, 404, 200: rejected with the server message, not retried', async (t) => {
  const { fake, client } = await setup(t);
  const long = 'x'.repeat(2000);
  fake.script(
    'predictions',
    { status: 422, body: { message: 'raw_predictions invalid', detail: 'detection_scores too short' } },
    { status: 400, body: 'plain text reason' },
    { status: 500, body: { message: long } },
    { status: 404, body: { detail: [{ loc: ['body'], msg: 'missing' }] } },
    { status: 200, body: { id: 'x' } },
  );
  const o422 = await client.sendPrediction(body('a'));
  assert.deepEqual(o422, { kind: 'rejected', status: 422, code: 'EW_MONITOR_REJECTED', message: 'HTTP 422: raw_predictions invalid: detection_scores too short' });
  const o400 = await client.sendPrediction(body('a'));
  assert.deepEqual(o400, { kind: 'rejected', status: 400, code: 'EW_MONITOR_REJECTED', message: 'HTTP 400: plain text reason' });
  const o500 = await client.sendPrediction(body('a'));
  assert.equal(o500.kind, 'rejected');
  assert.equal(o500.kind === 'rejected' && o500.code, 'EW_MONITOR_REJECTED');
  assert.ok(o500.kind === 'rejected' && o500.message.length < 520, 'server message truncated');
  const o404 = await client.sendPrediction(body('a'));
  assert.match(o404.kind === 'rejected' ? o404.message : '', /missing/);
  const o200 = await client.sendPrediction(body('a'));
  assert.equal(o200.kind === 'rejected' && o200.code, 'EW_MONITOR_HTTP');
  assert.equal(fake.requestsOf('predictions').length, 5);
  assert.equal(fake.requestsOf('login').length, 1);
});

test('201 without a JSON id: delivered with id null', async (t) => {
  const { fake, client } = await setup(t);
  fake.script('predictions', { status: 201, body: 'created' });
  assert.deepEqual(await client.sendPrediction(body('a')), { kind: 'delivered', status: 201, id: null });
});

test('connection drop: retry EW_MONITOR_CONNECT, then delivered', async (t) => {
  const { fake, client } = await setup(t);
  fake.script('predictions', { drop: true });
  const outcome = await client.sendPrediction(body('a'));
  assert.equal(outcome.kind, 'retry');
  assert.equal(outcome.kind === 'retry' && outcome.code, 'EW_MONITOR_CONNECT');
  assert.equal(outcome.kind === 'retry' && outcome.status, null);
  assert.equal((await client.sendPrediction(body('a'))).kind, 'delivered');
});

test('slow response beyond requestTimeoutMs: retry EW_MONITOR_TIMEOUT', async (t) => {
  const { fake, client } = await setup(t, {}, { requestTimeoutMs: 300 });
  const gate = fake.gate('predictions', { status: 201, body: { id: 'late' } });
  t.after(() => gate.release());
  const outcome = await client.sendPrediction(body('a'));
  assert.equal(outcome.kind, 'retry');
  assert.equal(outcome.kind === 'retry' && outcome.code, 'EW_MONITOR_TIMEOUT');
});

test('oracle unreachable: retry EW_MONITOR_CONNECT', async (t) => {
  const { fake, client } = await setup(t);
  await fake.close();
  const outcome = await client.sendPrediction(body('a'));
  assert.equal(outcome.kind === 'retry' && outcome.code, 'EW_MONITOR_CONNECT');
});

test('useTarget (offline start): no platform call, lazy login at the first send', async (t) => {
  const fake = await startFakePicsellia();
  const first = clientFor(fake);
  const target = await first.resolve();
  await first.close();
  const client = clientFor(fake, { apiToken: fake.apiToken });
  t.after(async () => {
    await client.close();
    await fake.close();
  });
  const before = fake.requests.length;
  client.useTarget(target);
  assert.equal(fake.requests.length, before);
  assert.equal((await client.sendPrediction(body('a'))).kind, 'delivered');
  assert.deepEqual(fake.requests.slice(before).map((r) => r.kind), ['login', 'predictions']);
});

test('useTarget then a refused login: retry EW_MONITOR_AUTH (the prediction is kept)', async (t) => {
  const { fake, client } = await fakeAndClient(t, {}, { apiToken: 'wrong-token' });
  client.useTarget({
    organizationId: fake.state.organization.id, organizationName: 'acme', deploymentId: fake.state.deployment.id,
    deploymentName: 'line-3', type: 'CLASSIFICATION', oracleHost: fake.url, resolvedAt: 0,
  });
  const outcome = await client.sendPrediction(body('a'));
  assert.equal(outcome.kind, 'retry');
  assert.equal(outcome.kind === 'retry' && outcome.code, 'EW_MONITOR_AUTH');
  assert.equal(outcome.kind === 'retry' && outcome.status, 401);
});

test('sending without a target throws EW_MONITOR_PROTOCOL; a bad cached oracle URL too', async (t) => {
  const { client } = await fakeAndClient(t);
  await assert.rejects(client.sendPrediction(body('a')), { code: 'EW_MONITOR_PROTOCOL' });
  assert.throws(
    () => client.useTarget({ organizationId: 'o', organizationName: 'o', deploymentId: 'd', deploymentName: 'd', type: 'CLASSIFICATION', oracleHost: 'nope', resolvedAt: 0 }),
    { code: 'EW_MONITOR_PROTOCOL' },
  );
});

test('late shadow: 201 delivered, 409 duplicate, malformed throws EW_MONITOR_PROTOCOL', async (t) => {
  const { fake, client } = await setup(t);
  const input = sampleInput(jpeg, 'late');
  delete input.shadow;
  const sent = await client.sendPrediction(buildMonitorBody(input));
  assert.ok(sent.kind === 'delivered' && sent.id !== null);
  const shadow = { shadow_raw_predictions: { detection_classes: [0], detection_texts: null, detection_scores: [0.5] }, shadow_latency: 0.02 };
  assert.equal((await client.sendLateShadow(sent.id, shadow)).kind, 'delivered');
  assert.deepEqual(fake.predictions[0]!.lateShadow, shadow);
  assert.equal((await client.sendLateShadow(sent.id, shadow)).kind, 'duplicate');
  assert.equal(fake.requestsOf('shadow')[0]!.path, `/api/prediction/${sent.id}/shadow`);
  await assert.rejects(client.sendLateShadow(sent.id, { ...shadow, shadow_latency: -1 }), { code: 'EW_MONITOR_PROTOCOL' });
  await assert.rejects(
    client.sendLateShadow(sent.id, { shadow_raw_predictions: { detection_classes: [0.5], detection_texts: null, detection_scores: [1] }, shadow_latency: 1 }),
    { code: 'EW_MONITOR_PROTOCOL' },
  );
  assert.deepEqual(fake.violations, []);
});

test('close: idempotent, aborts an in-flight send as retry, later sends are retry', async (t) => {
  const { fake, client } = await setup(t);
  const gate = fake.gate('predictions');
  t.after(() => gate.release());
  const pending = client.sendPrediction(body('a'));
  await gate.arrived;
  const c1 = client.close();
  const c2 = client.close();
  assert.equal(c1, c2);
  await c1;
  const outcome = await pending;
  assert.equal(outcome.kind, 'retry');
  assert.equal(outcome.kind === 'retry' && outcome.code, 'EW_MONITOR_CONNECT');
  assert.equal((await client.sendPrediction(body('b'))).kind, 'retry');
  await client.close();
});
