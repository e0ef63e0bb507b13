/** Issue 14, service side: bad input and credentials an attacker on 127.0.0.1 would try, each refused with a clear status. */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveConfigSchema, startServer, type ServerLogger } from '../../src/server/index.js';
import { bombPngBytes } from '../helpers/images.js';
import { classification, httpRequest, makeJpeg, makePng, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir, type Handshake } from './sdk.js';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function body(seed: number, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return { ...monitorBody({ image: await makeJpeg(8, 8, seed), width: 8, height: 8, champion: classification(0, 0.5), latencyS: 0.01 }), ...extra };
}

/** A monitor body whose `key` is `{"a":{"a":...1}}` nested `depth` deep (built as text: JSON.stringify would overflow). */
async function nestedBody(seed: number, key: string, depth: number): Promise<string> {
  return JSON.stringify(await body(seed)).replace(/^\{/, `{"${key}":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)},`);
}

test('item 1: a timestamp outside [2000-01-01, now + 1 day] is refused with 422 naming it; an old replay is accepted', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const nowS = Date.now() / 1000;
  for (const [i, timestamp] of [0, 3e13, Date.now(), nowS + 2 * 86_400, 946_684_799, -1].entries()) {
    const res = await postMonitor(h, await body(100 + i, { timestamp }));
    assert.equal(res.status, 422, `timestamp ${timestamp}`);
    assert.equal(res.json.field, 'timestamp');
    assert.match(res.json.message, /epoch seconds/);
  }
  const ms = await postMonitor(h, await body(120, { timestamp: Date.now() }));
  assert.match(ms.json.message, /milliseconds/, 'a timestamp in milliseconds is named as such');
  assert.equal(await server.store.count(h.deploymentId), 0, 'nothing stored');
  // An agent replaying an old outbox (2001) and a clock slightly ahead (one hour) are accepted.
  assert.equal((await postMonitor(h, await body(130, { timestamp: 1_000_000_000 }))).status, 201);
  assert.equal((await postMonitor(h, await body(131, { timestamp: nowS + 3600 }))).status, 201);
});

test('item 2: metadata nested too deep or too large is refused with 422 and leaves no datalake file', async (t) => {
  const { server, dataDir } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  for (const [i, key] of ['metadata', 'custom_metadata'].entries()) {
    for (const depth of [40, 4000, 20_000]) {
      const res = await postMonitor(h, await nestedBody(200 + i * 10 + depth, key, depth));
      assert.equal(res.status, 422, `${key} ${depth} deep`);
      assert.equal(res.json.field, key);
      assert.match(res.json.message, /deep/);
    }
    const big = await postMonitor(h, await body(300 + i, { [key]: { blob: 'x'.repeat(100 * 1024) } }));
    assert.equal(big.status, 422, `${key} of 100 KB`);
    assert.equal(big.json.field, key);
    assert.match(big.json.message, /65536 bytes/);
  }
  assert.deepEqual(await filesUnder(join(dataDir, 'datalake')), [], 'no file without its row');
  assert.equal(await server.store.count(h.deploymentId), 0);
  const ok = await postMonitor(h, await body(310, { metadata: { a: { b: { c: [1, 2, { d: 'e' }] } } } }));
  assert.equal(ok.status, 201, 'ordinary metadata still accepted');
});

test('item 4: a new --token revokes every JWT and dashboard cookie issued with the old one', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startServer(serveConfigSchema.parse({ dataDir, port: 0, token: 'first-token-1234' }));
  const h = await sdkHandshake(first.url, first.token);
  const signIn = await httpRequest(`${first.url}/api/dashboard/session`, { method: 'POST', body: JSON.stringify({ token: first.token }) });
  const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string;
  await first.close();

  const same = await startServer(serveConfigSchema.parse({ dataDir, port: 0, token: 'first-token-1234' }));
  const stats = (url: string, headers: Record<string, string>) => httpRequest(`${url}/api/deployment/${h.deploymentId}/stats`, { headers });
  assert.equal((await stats(same.url, { cookie })).status, 200, 'a restart with the same token keeps sessions');
  assert.equal((await postMonitor({ ...h, oracleHost: `${same.url}/oracle` }, await body(400))).status, 201, 'and JWTs');
  await same.close();

  const rotated = await startServer(serveConfigSchema.parse({ dataDir, port: 0, token: 'second-token-5678' }));
  t.after(() => rotated.close());
  assert.equal((await stats(rotated.url, { cookie })).status, 401, 'old cookie refused');
  assert.equal((await stats(rotated.url, { authorization: `Bearer ${h.jwt}` })).status, 401, 'old JWT refused for reading');
  assert.equal((await postMonitor({ ...h, oracleHost: `${rotated.url}/oracle` }, await body(401))).status, 401, 'old JWT refused for monitoring');
  const fresh = await sdkHandshake(rotated.url, rotated.token);
  assert.equal((await postMonitor(fresh, await body(402))).status, 201, 'a JWT of the new token works');
});

test('item 5: a malformed percent-encoding answers 401 without credentials, 400 with them, and logs no error', async (t) => {
  const errors: string[] = [];
  const logger: ServerLogger = { debug() {}, info() {}, warn() {}, error: (obj, msg) => errors.push(`${msg ?? ''} ${JSON.stringify(obj)}`) };
  const dataDir = await tempDir(t);
  const server = await startServer(serveConfigSchema.parse({ dataDir, port: 0 }), { logger });
  t.after(() => server.close());
  const h = await sdkHandshake(server.url, server.token);
  const routes: [string, string, Record<string, string>][] = [
    ['GET', '/api/deployment/%ZZ/stats', { authorization: `Bearer ${server.token}` }],
    ['GET', '/oracle/api/deployment/%ZZ/stats', { authorization: `Bearer ${server.token}` }],
    ['GET', '/api/deployment/%ZZ/predictions', { authorization: `Bearer ${server.token}` }],
    ['GET', '/oracle/api/deployment/%ZZ', { authorization: `Bearer ${server.token}` }],
    ['GET', '/api/deployment/%ZZ', { authorization: `Bearer ${server.token}` }],
    ['GET', '/api/organization/%E0%A4%A', { authorization: `Bearer ${server.token}` }],
    ['GET', '/api/organization/%ZZ/deployments/find?name=demo', { authorization: `Bearer ${server.token}` }],
    ['POST', '/api/deployment/%ZZ/predictions', { authorization: `Bearer ${h.jwt}` }],
    ['POST', '/api/prediction/%ZZ/shadow', { authorization: `Bearer ${h.jwt}` }],
  ];
  for (const [method, path, auth] of routes) {
    const anonymous = await httpRequest(server.url + path, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
    assert.equal(anonymous.status, 401, `${method} ${path} without credentials`);
    const signed = await httpRequest(server.url + path, { method, headers: auth, ...(method === 'POST' ? { body: '{}' } : {}) });
    assert.equal(signed.status, 400, `${method} ${path} with credentials`);
    assert.match(signed.json.message, /percent-encoding/);
  }
  assert.deepEqual(errors, [], 'no ERROR log line');
});

test('item 6: login reads at most 64 KiB', async (t) => {
  const { server } = await startTestServer(t);
  const res = await httpRequest(`${server.url}/api/auth/login`, { method: 'POST', body: JSON.stringify({ api_token: 'x'.repeat(100 * 1024), deployment_id: 'd' }) });
  assert.equal(res.status, 413);
  assert.equal(res.json.limitBytes, 64 * 1024);
});

test('item 8: the dashboard key signs in once; the cookie is Secure behind an https public URL', async (t) => {
  const { server } = await startTestServer(t);
  const key = new URL(server.dashboardUrl).hash.replace('#key=', '');
  const session = (url: string, b: unknown) => httpRequest(`${url}/api/dashboard/session`, { method: 'POST', body: JSON.stringify(b) });
  const first = await session(server.url, { key });
  assert.equal(first.status, 200);
  assert.doesNotMatch(String(first.headers['set-cookie']), /Secure/, 'plain http: no Secure flag (the browser would drop the cookie)');
  assert.equal((await session(server.url, { key })).status, 401, 'the key is spent');
  assert.equal((await session(server.url, { token: server.token })).status, 200, 'the token still signs in');

  const { server: proxied } = await startTestServer(t, { publicUrl: 'https://monitor.example.com' });
  const cookie = String((await session(proxied.url, { token: proxied.token })).headers['set-cookie']);
  assert.match(cookie, /; Secure/);
});

test('item 9: the pixel limit applies in the service and the refusal names it', async (t) => {
  const { server } = await startTestServer(t, { maxPixels: 10_000 });
  const h = await sdkHandshake(server.url, server.token);
  const refused = await postMonitor(h, monitorBody({ image: await makePng(200, 100, 1), contentType: 'IMAGE/PNG', width: 200, height: 100, champion: classification(0, 0.5), latencyS: 0.01 }));
  assert.equal(refused.status, 422);
  assert.equal(refused.json.field, 'image');
  assert.match(refused.json.message, /20000 pixels.*limit is 10000/);
  assert.equal((await postMonitor(h, monitorBody({ image: await makePng(100, 100, 2), contentType: 'IMAGE/PNG', width: 100, height: 100, champion: classification(0, 0.5), latencyS: 0.01 }))).status, 201);

  const { server: defaults, dataDir } = await startTestServer(t);
  const d = await sdkHandshake(defaults.url, defaults.token);
  for (const side of [16_383, 20_000]) {
    const png = bombPngBytes(side, side);
    const res = await postMonitor(d, monitorBody({ image: png, contentType: 'IMAGE/PNG', width: side, height: side, champion: classification(0, 0.5), latencyS: 0.01 }));
    assert.equal(res.status, 422, `${side}×${side}`);
    assert.match(res.json.message, new RegExp(`${side * side} pixels.*limit is 100000000`));
  }
  assert.deepEqual(await filesUnder(join(dataDir, 'datalake')), []);
});

test('a wrong field type is reported as such, not as "is required"', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const wrong = await postMonitor(h, await body(500, { width: '8' }));
  assert.equal(wrong.status, 422);
  assert.equal(wrong.json.field, 'width');
  assert.doesNotMatch(wrong.json.message, /is required/);
  assert.match(wrong.json.message, /width must be a number, not a string/);
  const { latency: _, ...missing } = await body(501);
  const res = await postMonitor(h, missing);
  assert.match(res.json.message, /latency is required/);
});

test('the data folder, datalake folders and files are private (0700 / 0600)', async (t) => {
  const { server, dataDir } = await startTestServer(t);
  const h: Handshake = await sdkHandshake(server.url, server.token);
  assert.equal((await postMonitor(h, await body(600))).status, 201);
  const mode = async (p: string) => (await stat(p)).mode & 0o777;
  assert.equal(await mode(dataDir), 0o700);
  assert.equal(await mode(join(dataDir, 'datalake')), 0o700);
  assert.equal(await mode(join(dataDir, 'monitoring.db')), 0o600);
  const [file] = await filesUnder(join(dataDir, 'datalake'));
  assert.equal(await mode(file as string), 0o600);
  assert.equal(await mode(join(file as string, '..')), 0o700);
  assert.equal(await mode(join(file as string, '..', '..')), 0o700);
});
