/** The fake Picsellia server is strict: protocol mistakes are answered 400/401/404/405 and recorded as violations. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { buildMonitorBody } from '../../src/monitor/monitor-body.js';
import { startFakePicsellia, type FakePicsellia } from '../helpers/fake-picsellia.js';
import { makeJpeg, makePng, sampleInput } from './sample-body.js';

async function start(t: TestContext): Promise<{ fake: FakePicsellia; jwt: string; base: Record<string, unknown> }> {
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  const login = await fetch(`${fake.url}/api/auth/login`, {
    method: 'POST',
    body: JSON.stringify({ api_token: fake.apiToken, deployment_id: fake.state.deployment.id }),
  });
  assert.equal(login.status, 200);
  const { jwt } = (await login.json()) as { jwt: string };
  const base = JSON.parse(JSON.stringify(buildMonitorBody(sampleInput(await makeJpeg(), 'fake-1')))) as Record<string, unknown>;
  return { fake, jwt, base };
}

const post = (fake: FakePicsellia, path: string, body: unknown, bearer?: string) =>
  fetch(`${fake.url}${path}`, {
    method: 'POST',
    headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

test('a correct prediction without Content-Type is accepted, stored and deduplicated', async (t) => {
  const { fake, jwt, base } = await start(t);
  const path = `/api/deployment/${fake.state.deployment.id}/predictions`;
  const res = await post(fake, path, base, jwt);
  assert.equal(res.status, 201);
  const { id } = (await res.json()) as { id: string };
  assert.equal(fake.predictions[0]!.id, id);
  assert.equal((await post(fake, path, base, jwt)).status, 409);
  assert.deepEqual(fake.violations, []);
});

test('malformed predictions are 400 violations', async (t) => {
  const { fake, jwt, base } = await start(t);
  const path = `/api/deployment/${fake.state.deployment.id}/predictions`;
  const png = (await makePng()).toString('base64');
  const mutations: Array<[string, (b: Record<string, unknown>) => void]> = [
    ['no filename', (b) => delete b.filename],
    ['lower-case content type', (b) => { b.content_type = 'image/jpeg'; }],
    ['float width', (b) => { b.width = 1.5; }],
    ['latency as string', (b) => { b.latency = '0.1'; }],
    ['no timestamp', (b) => delete b.timestamp],
    ['tags not strings', (b) => { b.tags = [1]; }],
    ['no detection_texts', (b) => { delete (b.raw_predictions as Record<string, unknown>).detection_texts; }],
    ['lengths differ', (b) => { (b.raw_predictions as Record<string, unknown>).detection_scores = []; }],
    ['shadow without latency', (b) => delete b.shadow_latency],
    ['line breaks in base64', (b) => { b.image = `${(b.image as string).slice(0, 8)}\n${(b.image as string).slice(8)}`; }],
    ['unpadded base64', (b) => { b.image = Buffer.from([0xff, 0xd8, 0xff, 0xe0]).toString('base64').replace(/=+$/, ''); }],
    ['magic mismatch', (b) => { b.image = png; }],
  ];
  for (const [name, mutate] of mutations) {
    const b = structuredClone(base);
    b.custom_metadata = { edgewatch: { imageId: name } };
    mutate(b);
    const res = await post(fake, path, b, jwt);
    assert.equal(res.status, 400, name);
  }
  assert.equal(fake.violations.length, mutations.length);
  assert.equal(fake.predictions.length, 0);
});

test('auth, path, method and login-body mistakes are violations; a wrong token is a plain 401', async (t) => {
  const { fake, jwt, base } = await start(t);
  const path = `/api/deployment/${fake.state.deployment.id}/predictions`;
  assert.equal((await post(fake, path, base)).status, 400); // no bearer
  assert.equal((await post(fake, path, base, fake.apiToken)).status, 401); // API token instead of a JWT
  assert.equal((await post(fake, `/prefix${path}`, base, jwt)).status, 404);
  assert.equal((await fetch(`${fake.url}${path}`)).status, 405);
  assert.equal((await post(fake, '/api/auth/login', { api_token: fake.apiToken, deployment_id: fake.state.deployment.id, extra: 1 })).status, 400);
  assert.equal(fake.violations.length, 5);
  const ping = await fetch(`${fake.url}/api/home/ping`, { headers: { authorization: 'Bearer wrong' } });
  assert.equal(ping.status, 401);
  const login = await post(fake, '/api/auth/login', { api_token: 'wrong', deployment_id: fake.state.deployment.id });
  assert.equal(login.status, 401);
  assert.equal(fake.violations.length, 5);
});

test('waitFor resolves on a condition and rejects at its deadline', async (t) => {
  const { fake, jwt, base } = await start(t);
  const waiting = fake.waitFor(() => fake.predictions.length === 1);
  await post(fake, `/api/deployment/${fake.state.deployment.id}/predictions`, base, jwt);
  await waiting;
  await assert.rejects(fake.waitFor(() => false, 50), /not met/);
});
