/** Issue 10 item 2: the monitoring service under its own prefix (`oracle_host` = `<url>/oracle`), the old root paths still answering, and the platform's deployment route answering the platform shape. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, pyJsonDumps, sdkHandshake, startTestServer } from './sdk.js';

const PLATFORM_KEYS = ['id', 'name', 'type', 'oracle_host', 'serving_host', 'review_campaign_id', 'model_version_id', 'shadow_model_version_id', 'tags'];

test('oracle_host carries the /oracle prefix; login, monitor, 409, late shadow, deployment info and stats answer under it', async (t) => {
  const { server } = await startTestServer(t, { labels: ['cat', 'dog'] });
  const h = await sdkHandshake(server.url, server.token);
  assert.equal(h.oracleHost, `${server.url}/oracle`);
  const auth = { authorization: `Bearer ${h.jwt}` };
  const body = monitorBody({ image: await makeJpeg(16, 16, 501), width: 16, height: 16, champion: classification(1, 0.9), latencyS: 0.01 });
  const created = await httpRequest(`${h.oracleHost}/api/deployment/${h.deploymentId}/predictions`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
  assert.equal(created.status, 201, created.text);
  assert.equal((await postMonitor(h, body)).status, 409);
  const shadow = await httpRequest(`${h.oracleHost}/api/prediction/${created.json.id}/shadow`, { method: 'POST', headers: auth, body: JSON.stringify({ shadow_raw_predictions: classification(0, 0.4), shadow_latency: 0.02 }) });
  assert.equal(shadow.status, 201, shadow.text);
  const info = await httpRequest(`${h.oracleHost}/api/deployment/${h.deploymentId}`, { headers: auth });
  assert.equal(info.status, 200, info.text);
  assert.equal(info.json.predictions, 1, 'the monitoring shape');
  assert.deepEqual(info.json.labels, ['cat', 'dog']);
  const stats = await httpRequest(`${h.oracleHost}/api/deployment/${h.deploymentId}/stats`, { headers: auth });
  assert.equal(stats.status, 200, stats.text);
  assert.equal(stats.json.counts.predictions, 1);
  const platformUnderPrefix = await httpRequest(`${h.oracleHost}/api/home/ping`, { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(platformUnderPrefix.status, 404, 'platform routes are not part of the monitoring service');
  assert.equal((await httpRequest(`${h.oracleHost}/index.html`)).status, 404, 'nor is the dashboard page');
});

test('old clients: login, monitor and late shadow at the root paths still work (an urljoin client drops the prefix)', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  // Python's urljoin(oracle_host, "/api/auth/login"), as the SDK and the edgewatch agent build their URLs.
  const loginUrl = new URL('/api/auth/login', h.oracleHost).href;
  assert.equal(loginUrl, `${server.url}/api/auth/login`);
  const login = await httpRequest(loginUrl, { method: 'POST', body: pyJsonDumps({ api_token: server.token, deployment_id: h.deploymentId }) });
  assert.equal(login.status, 200, login.text);
  const root = { ...h, oracleHost: server.url, jwt: login.json.jwt as string };
  const body = monitorBody({ image: await makeJpeg(16, 16, 502), width: 16, height: 16, champion: classification(0, 0.7), latencyS: 0.01 });
  const created = await postMonitor(root, body);
  assert.equal(created.status, 201, created.text);
  assert.equal((await postMonitor(h, body)).status, 409, 'root and prefix share one store');
  const shadow = await httpRequest(`${server.url}/api/prediction/${created.json.id}/shadow`, { method: 'POST', headers: { authorization: `Bearer ${root.jwt}` }, body: JSON.stringify({ shadow_raw_predictions: classification(1, 0.3), shadow_latency: 0.02 }) });
  assert.equal(shadow.status, 201, shadow.text);
  assert.equal((await server.store.get(created.json.id))?.shadowClass, 1);
  const stats = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`, { headers: { authorization: `Bearer ${root.jwt}` } });
  assert.equal(stats.status, 200, 'the stats path does not collide');
});

test('GET /api/deployment/{id} at the root answers the platform shape (API token), as deployments/find does', async (t) => {
  const { server } = await startTestServer(t, { labels: ['cat'] });
  const h = await sdkHandshake(server.url, server.token);
  const platform = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', 'user-agent': 'Picsellia-SDK/6.28.1' };
  const dep = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}`, { headers: platform });
  assert.equal(dep.status, 200, dep.text);
  for (const key of PLATFORM_KEYS) assert.ok(key in dep.json, `platform deployment has ${key}`);
  assert.equal(dep.json.id, h.deploymentId);
  assert.equal(dep.json.name, 'demo');
  assert.equal(dep.json.type, 'CLASSIFICATION');
  assert.equal(dep.json.oracle_host, `${server.url}/oracle`);
  assert.equal(dep.json.serving_host, null);
  assert.equal(dep.json.model_version_id, null);
  assert.equal(dep.json.shadow_model_version_id, null);
  assert.deepEqual(dep.json.tags, []);
  assert.equal('predictions' in dep.json, false, 'not the monitoring shape');
  const find = await httpRequest(`${server.url}/api/organization/${h.organizationId}/deployments/find?name=demo`, { headers: platform });
  assert.deepEqual(find.json, dep.json);
  const withJwt = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}`, { headers: { authorization: `Bearer ${h.jwt}` } });
  assert.equal(withJwt.status, 401);
  assert.match(withJwt.json.message, /\/oracle\/api\/deployment\//, 'says where the monitoring shape is');
  assert.equal((await httpRequest(`${server.url}/api/deployment/00000000-0000-4000-8000-000000000000`, { headers: platform })).status, 404);
});

test('publicUrl: oracle_host is publicUrl with the /oracle prefix', async (t) => {
  const { server } = await startTestServer(t, { publicUrl: 'https://monitoring.example.com:8443/' });
  const auth = { authorization: `Bearer ${server.token}` };
  const org = await httpRequest(`${server.url}/api/organizations/find?name=edge`, { headers: auth });
  const dep = await httpRequest(`${server.url}/api/organization/${org.json.id}/deployments/find?name=demo`, { headers: auth });
  assert.equal(dep.json.oracle_host, 'https://monitoring.example.com:8443/oracle');
});
