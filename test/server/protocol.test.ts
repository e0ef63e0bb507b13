/** The embedded service speaks DESIGN.md §2 as the Picsellia SDK expects: handshake, login, monitor, 409, late shadow, persistence. */
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { loadConfig } from '../../src/config/load.js';
import { isEdgewatchError } from '../../src/errors.js';
import { serveConfigSchema, startServer } from '../../src/server/index.js';
import { takenPort } from '../helpers/ports.js';
import { classification, httpRequest, makeJpeg, makePng, monitorBody, postMonitor, pyJsonDumps, sdkHandshake, startTestServer, tempDir } from './sdk.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('serve configuration: flags derived from the schema, defaults, NAME:TYPE deployments', () => {
  const { config } = loadConfig(serveConfigSchema, { argv: ['--data-dir', '/tmp/x', '--port', '0', '--deployment', 'line-3:object_detection', '--deployment', 'cam', '--labels', 'cat,dog'], env: { EDGEWATCH_ORGANIZATION: 'acme' } });
  assert.equal(config.dataDir, '/tmp/x');
  assert.equal(config.port, 0);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.organization, 'acme');
  assert.deepEqual(config.deployment, ['line-3:object_detection', 'cam']);
  assert.deepEqual(config.labels, ['cat', 'dog']);
  assert.equal(config.maxBodyBytes, 32 * 1024 * 1024);
  assert.equal(config.jwtTtlSeconds, 3600);
  const defaults = serveConfigSchema.parse({});
  assert.equal(defaults.port, 8321);
  assert.equal(defaults.dataDir, '.edgewatch-server');
  assert.deepEqual(defaults.deployment, ['demo:CLASSIFICATION']);
  assert.throws(() => loadConfig(serveConfigSchema, { argv: ['--deployment', 'x:WRONG'] }), (e: unknown) => isEdgewatchError(e, 'EW_CONFIG_INVALID'));
  assert.throws(() => loadConfig(serveConfigSchema, { argv: ['--port', '70000'] }), (e: unknown) => isEdgewatchError(e, 'EW_CONFIG_INVALID'));
});

test('full SDK sequence: ping, organization, deployment, login with json.dumps spacing, monitor without Content-Type, 409 on repeat', async (t) => {
  const { server, dataDir } = await startTestServer(t, { labels: ['cat', 'dog', 'bird'] });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server.tokenCreated, true);
  const auth = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };

  const ping = await httpRequest(`${server.url}/api/home/ping`, { headers: auth });
  assert.equal(ping.status, 200);
  assert.ok('sdk_version' in ping.json && 'username' in ping.json && 'default_organization' in ping.json);

  const org = await httpRequest(`${server.url}/api/organizations/find?name=edge`, { headers: auth });
  assert.equal(org.status, 200);
  assert.match(org.json.id, UUID);
  assert.equal(ping.json.default_organization, org.json.id);
  const orgInfo = await httpRequest(`${server.url}/api/organization/${org.json.id}`, { headers: auth });
  assert.deepEqual(orgInfo.json, { id: org.json.id, name: 'edge', default_connector_id: orgInfo.json.default_connector_id });
  assert.match(orgInfo.json.default_connector_id, UUID, 'the connector of the model registry (its datalake folder)');

  const dep = await httpRequest(`${server.url}/api/organization/${org.json.id}/deployments/find?name=demo`, { headers: auth });
  assert.equal(dep.status, 200);
  assert.equal(dep.json.name, 'demo');
  assert.equal(dep.json.type, 'CLASSIFICATION');
  assert.equal(dep.json.oracle_host, `${server.url}/oracle`);
  assert.equal(dep.json.serving_host, null);
  const byId = await httpRequest(`${server.url}/api/organization/${org.json.id}/deployments/find?id=${dep.json.id}`, { headers: auth });
  assert.equal(byId.json.name, 'demo');

  const login = await httpRequest(`${dep.json.oracle_host}/api/auth/login`, { method: 'POST', body: pyJsonDumps({ api_token: server.token, deployment_id: dep.json.id }) });
  assert.equal(login.status, 200);
  assert.deepEqual(Object.keys(login.json).sort(), ['expires', 'jwt']);
  assert.equal(login.json.expires, 3600);

  const h = { organizationId: org.json.id, deploymentId: dep.json.id, oracleHost: dep.json.oracle_host, jwt: login.json.jwt };
  const image = await makeJpeg(64, 48, 1);
  const body = { ...monitorBody({ image, width: 64, height: 48, champion: classification(1, 0.9), latencyS: 0.0123, shadow: classification(2, 0.6), shadowLatencyS: 0.02, source: 'camera-1', tags: ['edge', 'line-3'], timestamp: 1_730_000_000.125 }) };
  const first = await postMonitor(h, body);
  assert.equal(first.status, 201, first.text);
  assert.match(first.json.id, UUID);
  const again = await postMonitor(h, body);
  assert.equal(again.status, 409);
  assert.equal(typeof again.json.message, 'string');

  const stored = await server.store.get(first.json.id);
  assert.ok(stored);
  assert.equal(stored.source, 'camera-1');
  assert.deepEqual(stored.tags, ['edge', 'line-3']);
  assert.equal(stored.timestampS, 1_730_000_000.125);
  assert.equal(stored.championClass, 1);
  assert.equal(stored.shadowClass, 2);
  assert.match(stored.imagePath, new RegExp(`^demo/\\d{4}-\\d{2}-\\d{2}/${first.json.id}\\.jpg$`));
  assert.deepEqual(await readFile(join(dataDir, 'datalake', stored.imagePath)), image);

  const info = await httpRequest(`${h.oracleHost}/api/deployment/${dep.json.id}`, { headers: { authorization: `Bearer ${h.jwt}` } });
  assert.equal(info.status, 200);
  assert.equal(info.json.predictions, 1);
  assert.deepEqual(info.json.labels, ['cat', 'dog', 'bird']);
});

test('tolerates older SDK bodies: unknown keys, missing detection_texts, lower-case content type, PNG, default source', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const png = await makePng(20, 10, 3);
  const old = {
    ...monitorBody({ image: png, contentType: 'image/png', width: 20, height: 10, champion: { detection_classes: [0], detection_scores: [0.7] }, latencyS: 0.5, filename: 'x.png' }),
    model: 'f1d7c1f6-0000-4000-8000-000000000000',
    model_type: 'CLASSIFICATION',
    shadow_model: 'f1d7c1f6-0000-4000-8000-000000000001',
  };
  const res = await postMonitor(h, old);
  assert.equal(res.status, 201, res.text);
  const stored = await server.store.get(res.json.id);
  assert.equal(stored?.source, 'serving');
  assert.equal(stored?.contentType, 'IMAGE/PNG');
  assert.match(stored?.imagePath ?? '', /\.png$/);
  assert.deepEqual(stored?.champion, { detection_classes: [0], detection_texts: null, detection_scores: [0.7] });

  const jpeg = await makeJpeg(30, 20, 4);
  const mixedCase = await postMonitor(h, monitorBody({ image: jpeg, contentType: 'Image/Jpeg', width: 30, height: 20, champion: { detection_classes: [], detection_scores: [] }, latencyS: 0.1 }));
  assert.equal(mixedCase.status, 201, mixedCase.text);
  assert.equal((await server.store.get(mixedCase.json.id))?.championClass, null);
});

test('width/height are checked with the EXIF orientation applied', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const rotated = await makeJpeg(40, 20, 5, 6);
  const asDisplayed = await postMonitor(h, monitorBody({ image: rotated, width: 20, height: 40, champion: classification(0, 0.5), latencyS: 0.1 }));
  assert.equal(asDisplayed.status, 201, asDisplayed.text);
  const rotated2 = await makeJpeg(40, 20, 6, 6);
  const asStored = await postMonitor(h, monitorBody({ image: rotated2, width: 40, height: 20, champion: classification(0, 0.5), latencyS: 0.1 }));
  assert.equal(asStored.status, 422);
  assert.equal(asStored.json.field, 'width');
});

test('idempotency key: custom_metadata.edgewatch.imageId when present, else the image bytes', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const a = await makeJpeg(16, 16, 10);
  const b = await makeJpeg(16, 16, 11);
  const withId = (image: Buffer, imageId: string) => monitorBody({ image, width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.1, customMetadata: { edgewatch: { imageId } } });
  assert.equal((await postMonitor(h, withId(a, 'img-1'))).status, 201);
  assert.equal((await postMonitor(h, withId(b, 'img-1'))).status, 409, 'same imageId, other bytes');
  assert.equal((await postMonitor(h, withId(a, 'img-2'))).status, 201, 'same bytes, other imageId');
  const plain = monitorBody({ image: b, width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.1 });
  assert.equal((await postMonitor(h, plain)).status, 201);
  const repeat = await postMonitor(h, plain);
  assert.equal(repeat.status, 409);
  assert.match(repeat.json.message, /already/);
});

test('late shadow: 201 once, 409 when it already has one, 404 for an unknown prediction', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const created = await postMonitor(h, monitorBody({ image: await makeJpeg(16, 16, 20), width: 16, height: 16, champion: classification(3, 0.8), latencyS: 0.01 }));
  const shadowUrl = `${server.url}/api/prediction/${created.json.id}/shadow`;
  const shadowBody = JSON.stringify({ shadow_raw_predictions: classification(4, 0.55), shadow_latency: 0.03 });
  const first = await httpRequest(shadowUrl, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}` }, body: shadowBody });
  assert.equal(first.status, 201, first.text);
  assert.equal(first.json.id, created.json.id);
  const stored = await server.store.get(created.json.id);
  assert.equal(stored?.shadowClass, 4);
  assert.equal(stored?.shadowLatencyS, 0.03);
  const second = await httpRequest(shadowUrl, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}` }, body: shadowBody });
  assert.equal(second.status, 409);
  assert.equal(typeof second.json.message, 'string');
  const missing = await httpRequest(`${server.url}/api/prediction/00000000-0000-4000-8000-000000000000/shadow`, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}` }, body: shadowBody });
  assert.equal(missing.status, 404);
  const noLatency = await httpRequest(`${server.url}/api/prediction/${created.json.id}/shadow`, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}` }, body: JSON.stringify({ shadow_raw_predictions: classification(4, 0.5) }) });
  assert.equal(noLatency.status, 422);
  assert.equal(noLatency.json.field, 'shadow_latency');
});

test('token: generated once, stored 0600, reused on restart; data survives a restart', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startServer(serveConfigSchema.parse({ dataDir, port: 0 }));
  assert.equal(first.tokenCreated, true);
  const mode = (await stat(join(dataDir, 'token'))).mode & 0o777;
  assert.equal(mode, 0o600);
  assert.equal(((await stat(join(dataDir, 'jwt-secret'))).mode & 0o777), 0o600);
  const h = await sdkHandshake(first.url, first.token);
  const created = await postMonitor(h, monitorBody({ image: await makeJpeg(16, 16, 30), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.01 }));
  assert.equal(created.status, 201);
  await first.close();
  await first.close();

  const second = await startServer(serveConfigSchema.parse({ dataDir, port: 0 }));
  t.after(() => second.close());
  assert.equal(second.tokenCreated, false);
  assert.equal(second.token, first.token);
  assert.equal(await second.store.count(h.deploymentId), 1);
  const oldJwt = { ...h, oracleHost: second.url };
  const repeat = await postMonitor(oldJwt, monitorBody({ image: await makeJpeg(16, 16, 30), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.01 }));
  assert.equal(repeat.status, 409, 'a JWT from before the restart is still valid and the image is still known');
  const files = await readdir(join(dataDir, 'datalake', 'demo'), { recursive: true });
  assert.equal(files.filter((f) => f.endsWith('.jpg')).length, 1);
});

test('configured token is used and never written to disk; several organizations from a config file', async (t) => {
  const { server, dataDir } = await startTestServer(t, {
    token: 'my-secret-token-123',
    organizations: [
      { name: 'acme', deployments: ['line-1', { name: 'boxes', type: 'OBJECT_DETECTION', labels: ['box'] }] },
      { name: 'other', deployments: ['line-1:SEGMENTATION'] },
    ],
  });
  assert.equal(server.tokenCreated, false);
  await assert.rejects(stat(join(dataDir, 'token')), { code: 'ENOENT' });
  const h = await sdkHandshake(server.url, 'my-secret-token-123', 'acme', 'boxes');
  const dep = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}`, { headers: { authorization: 'Bearer my-secret-token-123' } });
  assert.equal(dep.json.type, 'OBJECT_DETECTION');
  const other = await sdkHandshake(server.url, 'my-secret-token-123', 'other', 'line-1');
  assert.notEqual(other.deploymentId, (await sdkHandshake(server.url, 'my-secret-token-123', 'acme', 'line-1')).deploymentId);
  const detection = { detection_classes: [0], detection_texts: null, detection_boxes: [[1, 2, 10, 12]], detection_scores: [0.8] };
  const res = await postMonitor(h, monitorBody({ image: await makeJpeg(16, 16, 40), width: 16, height: 16, champion: detection, latencyS: 0.01 }));
  assert.equal(res.status, 201, res.text);
  const noBoxes = await postMonitor(h, monitorBody({ image: await makeJpeg(16, 16, 41), width: 16, height: 16, champion: classification(0, 0.8), latencyS: 0.01 }));
  assert.equal(noBoxes.status, 422);
  assert.equal(noBoxes.json.field, 'raw_predictions.detection_boxes');
});

test('a port in use fails with EW_SERVER_LISTEN', async (t) => {
  const port = await takenPort(t);
  const dataDir = await tempDir(t);
  await assert.rejects(startServer(serveConfigSchema.parse({ dataDir, port })), (e: unknown) => isEdgewatchError(e, 'EW_SERVER_LISTEN'));
});

test('sharp-made images used by these tests are what they claim', async () => {
  const meta = await sharp(await makeJpeg(40, 20, 1, 6)).metadata();
  assert.deepEqual(meta.autoOrient, { width: 20, height: 40 });
});
