/** Every rejection path of the embedded service, each asserting its status and the field it names. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { signingKey } from '../../src/server/secret-files.js';
import { classification, httpRequest, makeJpeg, makePng, monitorBody, postMonitor, sdkHandshake, startTestServer, type Handshake } from './sdk.js';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function signWith(secret: Buffer, claims: Record<string, unknown>): string {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const payload = b64url(claims);
  return `${head}.${payload}.${createHmac('sha256', secret).update(`${head}.${payload}`).digest('base64url')}`;
}

test('platform and oracle auth: bad token 401, forged JWT 401, expired JWT 401, other deployment 403', async (t) => {
  const { server, dataDir } = await startTestServer(t, { deployment: ['demo', 'other'] });
  const h = await sdkHandshake(server.url, server.token);
  const other = await sdkHandshake(server.url, server.token, 'edge', 'other');
  const body = monitorBody({ image: await makeJpeg(16, 16, 1), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.1 });

  for (const path of ['/api/home/ping', '/api/organizations/find?name=edge', `/api/organization/${h.organizationId}`, `/api/organization/${h.organizationId}/deployments/find?name=demo`]) {
    const none = await httpRequest(server.url + path);
    assert.equal(none.status, 401, path);
    assert.equal(typeof none.json.message, 'string');
    const wrong = await httpRequest(server.url + path, { headers: { authorization: 'Bearer not-the-token' } });
    assert.equal(wrong.status, 401, path);
  }
  const badLogin = await httpRequest(`${server.url}/api/auth/login`, { method: 'POST', body: JSON.stringify({ api_token: 'nope', deployment_id: h.deploymentId }) });
  assert.equal(badLogin.status, 401);
  const unknownDep = await httpRequest(`${server.url}/api/auth/login`, { method: 'POST', body: JSON.stringify({ api_token: server.token, deployment_id: '00000000-0000-4000-8000-000000000000' }) });
  assert.equal(unknownDep.status, 404);
  const loginMissing = await httpRequest(`${server.url}/api/auth/login`, { method: 'POST', body: JSON.stringify({ api_token: server.token }) });
  assert.equal(loginMissing.status, 422);
  assert.equal(loginMissing.json.field, 'deployment_id');

  assert.equal((await postMonitor({ ...h, jwt: server.token }, body)).status, 401, 'the API token is not a JWT');
  const [head, payload] = h.jwt.split('.') as [string, string];
  const tampered = `${head}.${b64url({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), exp: 4_000_000_000 })}.${h.jwt.split('.')[2]}`;
  assert.equal((await postMonitor({ ...h, jwt: tampered }, body)).status, 401, 'tampered payload');
  assert.equal((await postMonitor({ ...h, jwt: signWith(Buffer.from('guessed-secret'), { sub: h.deploymentId, scope: 'oracle', iat: 1, exp: 4_000_000_000 }) }, body)).status, 401, 'forged signature');
  const noneAlg = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: h.deploymentId, scope: 'oracle', iat: 1, exp: 4_000_000_000 })}.`;
  assert.equal((await postMonitor({ ...h, jwt: noneAlg }, body)).status, 401, 'alg none');

  const secret = signingKey(Buffer.from((await readFile(join(dataDir, 'jwt-secret'), 'utf8')).trim(), 'base64url'), server.token);
  const now = Math.floor(Date.now() / 1000);
  const expired = signWith(secret, { sub: h.deploymentId, scope: 'oracle', iat: now - 7200, exp: now - 1 });
  const res = await postMonitor({ ...h, jwt: expired }, body);
  assert.equal(res.status, 401, 'expired');
  assert.match(res.json.message, /log in again/);
  const session = signWith(secret, { sub: 'dashboard', scope: 'dashboard', iat: now, exp: now + 60 });
  assert.equal((await postMonitor({ ...h, jwt: session }, body)).status, 401, 'a dashboard session cannot post predictions');

  const crossed = await postMonitor({ ...h, jwt: other.jwt }, body);
  assert.equal(crossed.status, 403);
  assert.equal((await postMonitor(h, body)).status, 201, 'the genuine JWT still works');
});

test('unknown deployment 404, unknown route 404, wrong method 405, invalid JSON 400', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const body = monitorBody({ image: await makeJpeg(16, 16, 2), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.1 });
  const unknown = await postMonitor({ ...h, deploymentId: '00000000-0000-4000-8000-000000000000' }, body);
  assert.equal(unknown.status, 404);
  assert.equal(typeof unknown.json.message, 'string');
  const auth = { authorization: `Bearer ${server.token}` };
  assert.equal((await httpRequest(`${server.url}/api/organizations/find?name=nope`, { headers: auth })).status, 404);
  assert.equal((await httpRequest(`${server.url}/api/organization/${h.organizationId}/deployments/find?name=nope`, { headers: auth })).status, 404);
  assert.equal((await httpRequest(`${server.url}/api/organization/00000000-0000-4000-8000-000000000000`, { headers: auth })).status, 404);
  const route = await httpRequest(`${server.url}/api/nothing/here`, { headers: auth });
  assert.equal(route.status, 404);
  assert.match(route.headers['content-type'] as string, /application\/json/);
  assert.equal((await httpRequest(`${server.url}/api/auth/login`)).status, 405);
  const notJson = await postMonitor(h, '{"filename": ');
  assert.equal(notJson.status, 400);
  assert.equal(typeof notJson.json.message, 'string');
});

test('422 naming the field: missing, wrong types, mismatched lengths, shadow without latency', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const image = await makeJpeg(16, 16, 3);
  const good = monitorBody({ image, width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.1 });
  const cases: [string, Record<string, unknown>, string][] = [
    ['missing filename', { ...good, filename: undefined }, 'filename'],
    ['missing image', { ...good, image: undefined }, 'image'],
    ['missing latency', { ...good, latency: undefined }, 'latency'],
    ['missing raw_predictions', { ...good, raw_predictions: undefined }, 'raw_predictions'],
    ['missing detection_scores', { ...good, raw_predictions: { detection_classes: [1], detection_texts: null } }, 'raw_predictions.detection_scores'],
    ['width as string', { ...good, width: '16' }, 'width'],
    ['height as float', { ...good, height: 16.5 }, 'height'],
    ['latency as string', { ...good, latency: 'fast' }, 'latency'],
    ['negative latency', { ...good, latency: -1 }, 'latency'],
    ['class as float', { ...good, raw_predictions: { detection_classes: [1.5], detection_texts: null, detection_scores: [0.5] } }, 'raw_predictions.detection_classes.0'],
    ['lengths differ', { ...good, raw_predictions: { detection_classes: [1, 2], detection_texts: null, detection_scores: [0.5] } }, 'raw_predictions.detection_scores'],
    ['tags not a list', { ...good, tags: 'edge' }, 'tags'],
    ['custom_metadata not an object', { ...good, custom_metadata: [1] }, 'custom_metadata'],
    ['unsupported content type', { ...good, content_type: 'IMAGE/WEBP' }, 'content_type'],
    ['shadow without latency', { ...good, shadow_raw_predictions: classification(1, 0.4) }, 'shadow_latency'],
    ['bad shadow prediction', { ...good, shadow_latency: 0.1, shadow_raw_predictions: { detection_classes: ['a'], detection_scores: [0.1] } }, 'shadow_raw_predictions.detection_classes.0'],
    ['invalid base64', { ...good, image: 'not base64!!' }, 'image'],
    ['base64 with line breaks', { ...good, image: `${image.toString('base64').slice(0, 8)}\n${image.toString('base64').slice(8)}` }, 'image'],
    ['unpadded base64', { ...good, image: image.toString('base64').replace(/=+$/, '') + (image.toString('base64').endsWith('=') ? '' : 'A') }, 'image'],
    ['empty image', { ...good, image: '' }, 'image'],
    ['width mismatch', { ...good, width: 17 }, 'width'],
    ['height mismatch', { ...good, height: 15 }, 'height'],
    ['PNG declared, JPEG sent', { ...good, content_type: 'IMAGE/PNG' }, 'content_type'],
    ['not an image', { ...good, image: Buffer.from('hello world, not an image').toString('base64') }, 'image'],
  ];
  for (const [name, body, field] of cases) {
    const res = await postMonitor(h, JSON.stringify(body));
    assert.equal(res.status, 422, `${name}: ${res.text}`);
    assert.equal(res.json.field, field, `${name}: ${res.text}`);
    assert.match(res.json.message, new RegExp(field.split('.')[0] as string), name);
    assert.ok(Array.isArray(res.json.errors), name);
  }
  const png = await makePng(16, 16, 1);
  const jpegDeclared = await postMonitor(h, monitorBody({ image: png, contentType: 'IMAGE/JPEG', width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.1 }));
  assert.equal(jpegDeclared.status, 422);
  assert.equal(jpegDeclared.json.field, 'content_type');
  assert.equal(await server.store.count(h.deploymentId), 0, 'nothing stored by rejected requests');
});

test('body too large: 413 JSON, whether Content-Length announces it or not', async (t) => {
  const { server } = await startTestServer(t, { maxBodyBytes: 64 * 1024 });
  const h: Handshake = await sdkHandshake(server.url, server.token);
  const big = monitorBody({ image: Buffer.alloc(100 * 1024, 7), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.1 });
  const res = await postMonitor(h, big);
  assert.equal(res.status, 413);
  assert.match(res.json.message, /limit/);
  // Chunked upload without Content-Length.
  const chunked = await new Promise<number>((resolve, reject) => {
    import('node:http').then(({ request }) => {
      const req = request(`${server.url}/api/deployment/${h.deploymentId}/predictions`, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}`, 'transfer-encoding': 'chunked' } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      const payload = Buffer.from(JSON.stringify(big));
      req.write(payload.subarray(0, 50_000));
      req.end(payload.subarray(50_000));
    }, reject);
  });
  assert.equal(chunked, 413);
  const small = await postMonitor(h, monitorBody({ image: await makeJpeg(16, 16, 9), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.1 }));
  assert.equal(small.status, 201, 'the service keeps working after a 413');
});
