/** The model registry of `serve`, driven with requests shaped as the Picsellia SDK 6.28.1 sends them: models, versions, store/download, champion/shadow, promotion. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { UrlSigner } from '../../src/server/registry/signed-urls.js';
import { platform, presignedPost, storeModelFile } from './registry-sdk.js';
import { httpRequest, startTestServer, tempDir } from './sdk.js';
import { testOnBothStores, type StoreBackend } from '../helpers/postgres.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function bootstrap(url: string, token: string) {
  const p0 = platform(url, token);
  const ping = await p0.get('/api/home/ping');
  const organizationId = ping.json.default_organization as string;
  const org = await p0.get(`/api/organization/${organizationId}`);
  assert.equal(org.status, 200);
  assert.match(org.json.default_connector_id, UUID, 'the organization has a connector: its datalake folder');
  const p = platform(url, token, organizationId);
  const dep = await p.get(`/api/organization/${organizationId}/deployments/find?name=demo`);
  return { p, organizationId, connectorId: org.json.default_connector_id as string, deploymentId: dep.json.id as string };
}

/** The cases run on both stores. */
async function cases(t: TestContext, on: StoreBackend): Promise<void> {
  await t.test('registry: create_model, create_version, get_version, ModelVersion.store, list_files/get_file, download without the token', async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), labels: ['cat', 'dog'] });
    const { p, organizationId, connectorId } = await bootstrap(server.url, server.token);

    const model = await p.post(`/api/organization/${organizationId}/models`, { name: 'classifier', description: 'A brand new model!' });
    assert.equal(model.status, 201, model.text);
    assert.match(model.json.id, UUID);
    assert.equal(model.json.name, 'classifier');
    assert.equal(typeof model.json.private, 'boolean');
    const dup = await p.post(`/api/organization/${organizationId}/models`, { name: 'classifier' });
    assert.equal(dup.status, 409);
    assert.equal((await p.get(`/api/organization/${organizationId}/models/find?name=classifier`)).json.id, model.json.id);
    assert.equal((await p.get(`/api/organization/${organizationId}/models/find?name=nope`)).status, 404);

    const v1 = await p.post(`/api/model/${model.json.id}/versions`, { labels: { '0': 'cat', '1': 'dog' }, type: 'CLASSIFICATION', framework: 'TENSORFLOW', name: 'v1' });
    assert.equal(v1.status, 201, v1.text);
    const v2 = await p.post(`/api/model/${model.json.id}/versions`, { labels: { '1': 'cat', '2': 'dog' }, type: 'CLASSIFICATION', name: 'v2' });
    assert.equal(v2.json.version, 2);
    const got = await p.get(`/api/model/version/${v1.json.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(
      { id: got.json.id, origin: got.json.origin, name: got.json.name, version: got.json.version, labels: got.json.labels, type: got.json.type, framework: got.json.framework, tags: got.json.tags },
      { id: v1.json.id, origin: { id: model.json.id, name: 'classifier', private: true }, name: 'v1', version: 1, labels: { '0': 'cat', '1': 'dog' }, type: 'CLASSIFICATION', framework: 'TENSORFLOW', tags: [] },
    );
    assert.equal((await p.get(`/api/model/${model.json.id}/versions/find?version=2`)).json.id, v2.json.id);
    assert.equal((await p.get(`/api/organization/${organizationId}/modelversions/find?id=${v2.json.id}`)).json.name, 'v2');
    const badVersion = await p.post(`/api/model/${model.json.id}/versions`, { labels: { cat: 'cat' }, type: 'KEYPOINT' });
    assert.equal(badVersion.status, 422);
    assert.match(badVersion.json.field, /^labels|^type/);
    assert.equal((await p.get('/api/model/version/00000000-0000-4000-8000-000000000000')).status, 404);
    // ModelVersion.update(labels=...): PATCH with the keys it sends.
    const patch = (id: string, body: unknown) => httpRequest(`${server.url}/api/model/version/${id}`, { method: 'PATCH', headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const updated = await patch(v2.json.id, { labels: { '1': 'cat', '2': 'dog', '3': 'bird' }, docker_image: 'ignored' });
    assert.equal(updated.status, 200, updated.text);
    assert.deepEqual(updated.json.labels, { '1': 'cat', '2': 'dog', '3': 'bird' });
    assert.equal(updated.json.name, 'v2');
    assert.equal((await patch(v2.json.id, { name: 'v1' })).status, 409);
    assert.equal((await patch(v2.json.id, { type: 'KEYPOINT' })).json.field, 'type');

    const zip = Buffer.from('PK\u0003\u0004 a model zip of test bytes '.repeat(100));
    const ids = { organizationId, connectorId, modelVersionId: v1.json.id as string };
    const file = await storeModelFile(p, ids, 'model-tfjs', 'model-tfjs.zip', zip);
    assert.equal(file.status, 201, file.text);
    assert.match(file.json.id, UUID);
    assert.equal(file.json.name, 'model-tfjs');
    assert.equal(file.json.filename, 'model-tfjs.zip');
    assert.equal(file.json.large, false);
    assert.equal(file.json.size, zip.length);
    assert.match(file.json.object_name, new RegExp(`^registry/model-files/${v1.json.id}/`));

    const listed = await p.get(`/api/model/version/${v1.json.id}/modelfiles`);
    assert.deepEqual(listed.json.items.map((f: { id: string }) => f.id), [file.json.id]);
    const found = await p.get(`/api/model/version/${v1.json.id}/modelfiles/find?name=model-tfjs`);
    assert.equal(found.json.id, file.json.id);
    assert.equal((await p.get(`/api/model/version/${v1.json.id}/modelfiles/find?name=model-latest`)).status, 404);

    // Download: the presigned URL, with no Authorization header; Content-Length always.
    const download = await httpRequest(found.json.presigned_url);
    assert.equal(download.status, 200);
    assert.equal(download.headers['content-length'], String(zip.length));
    assert.equal(download.text, zip.toString('utf8'));
    // ModelFile without presigned_url: retrieve_presigned_url on the organization's connector, exactly 200.
    const retrieved = await p.post(`/api/object-storage/${connectorId}/retrieve_presigned_url`, { object_name: found.json.object_name });
    assert.equal(retrieved.status, 200);
    assert.equal((await httpRequest(retrieved.json.presigned_url)).text, zip.toString('utf8'));
    // A URL signed for one object does not open another, and a tampered one is 403 (the SDK asks again once).
    const forged = new URL(retrieved.json.presigned_url);
    forged.searchParams.set('signature', 'x'.repeat(43));
    assert.equal((await httpRequest(forged.toString())).status, 403);
    const other = new URL(retrieved.json.presigned_url);
    other.pathname = `/storage/object/${encodeURIComponent('registry/model-files/other')}`;
    assert.equal((await httpRequest(other.toString())).status, 403);
    assert.ok(!retrieved.json.presigned_url.includes(server.token), 'the token is never in a URL');

    // replace=True: delete the old ModelFile, store again under the same name.
    assert.equal((await storeModelFile(p, ids, 'model-tfjs', 'model-tfjs.zip', zip)).status, 409);
    assert.equal((await p.delete(`/api/model/file/${file.json.id}`)).status, 200);
    const replaced = await storeModelFile(p, ids, 'model-tfjs', 'model-tfjs.zip', Buffer.from('new bytes'));
    assert.equal(replaced.status, 201);
    assert.notEqual(replaced.json.id, file.json.id);
    assert.notEqual(replaced.json.object_name, file.json.object_name);
  });

  await t.test('registry uploads: signed fields only, size cap, one upload per object, file registered only once uploaded', async (t) => {
    const { server } = await startTestServer(t, { ...(await on(t)), maxModelFileBytes: 4096 });
    const { p, organizationId, connectorId } = await bootstrap(server.url, server.token);
    const model = await p.post(`/api/organization/${organizationId}/models`, { name: 'm' });
    const v = await p.post(`/api/model/${model.json.id}/versions`, { type: 'CLASSIFICATION' });
    const objectName = (await p.post(`/api/organization/${organizationId}/connector/${connectorId}/generate_object_name`, { filename: 'm.zip', type: 'MODEL_FILE', context: { model_version_id: v.json.id } })).json.object_name as string;
    const presigned = await p.post(`/api/object-storage/${connectorId}/generate_presigned_url`, { object_name: objectName, content_type: 'application/zip' });
    assert.equal(presigned.json.client_type, 'minio');
    const data = presigned.json.presigned_url_data as { url: string; fields: Record<string, string> };

    const early = await p.post(`/api/model/version/${v.json.id}/modelfiles`, { name: 'm', filename: 'm.zip', object_name: objectName, large: false });
    assert.equal(early.status, 422, 'not uploaded yet');
    assert.equal(early.json.field, 'object_name');
    assert.equal((await presignedPost({ url: data.url, fields: { ...data.fields, key: 'registry/model-files/elsewhere' } }, Buffer.from('x'), objectName)).status, 403);
    assert.equal((await presignedPost({ url: data.url, fields: { ...data.fields, signature: 'forged' } }, Buffer.from('x'), objectName)).status, 403);
    const big = await presignedPost(data, Buffer.alloc(5000, 1), objectName);
    assert.equal(big.status, 413);
    assert.equal((await presignedPost(data, Buffer.from('ok'), objectName)).status, 201);
    assert.equal((await presignedPost(data, Buffer.from('again'), objectName)).status, 409, 'objects are immutable');
    assert.equal((await p.post(`/api/object-storage/${connectorId}/init_multipart_upload`, { object_name: objectName, content_type: 'application/zip' })).status, 501);
    assert.equal((await p.post('/api/object-storage/00000000-0000-4000-8000-000000000000/retrieve_presigned_url', { object_name: objectName })).status, 404);
    const noToken = await httpRequest(`${server.url}/api/organization/${organizationId}/models`, { method: 'POST', body: JSON.stringify({ name: 'x' }) });
    assert.equal(noToken.status, 401);
    const wrongType = await p.post(`/api/organization/${organizationId}/connector/${connectorId}/generate_object_name`, { filename: 'a', type: 'DATA', context: { model_version_id: v.json.id } });
    assert.equal(wrongType.status, 422);
    assert.equal(wrongType.json.field, 'type');
  });

  await t.test('champion and shadow: set_model / set_shadow_model, promotion empties the shadow slot, persisted across a restart', async (t) => {
    const dataDir = await tempDir(t);
    const token = 'registry-test-token';
    const first = await startTestServer(t, { ...(await on(t)), dataDir, token, labels: ['cat', 'dog'] });
    const { p, organizationId, deploymentId } = await bootstrap(first.server.url, token);
    const model = await p.post(`/api/organization/${organizationId}/models`, { name: 'm' });
    const v1 = (await p.post(`/api/model/${model.json.id}/versions`, { type: 'CLASSIFICATION' })).json.id as string;
    const v2 = (await p.post(`/api/model/${model.json.id}/versions`, { type: 'CLASSIFICATION' })).json.id as string;
    const detector = await p.post(`/api/model/${model.json.id}/versions`, { type: 'OBJECT_DETECTION' });

    let dep = await p.get(`/api/deployment/${deploymentId}`);
    assert.equal(dep.json.model_version_id, null);
    assert.ok('shadow_model_version_id' in dep.json);
    const setChampion = await p.post(`/api/deployment/${deploymentId}/model`, { model_version_id: v1 });
    assert.equal(setChampion.status, 200);
    assert.equal(setChampion.json.model_version_id, v1, 'the reply is JSON (the SDK parses it)');
    assert.equal((await p.post(`/api/deployment/${deploymentId}/shadow`, { model_version_id: v2 })).status, 200);
    dep = await p.get(`/api/deployment/${deploymentId}`);
    assert.deepEqual([dep.json.model_version_id, dep.json.shadow_model_version_id], [v1, v2]);

    const unknown = await p.post(`/api/deployment/${deploymentId}/model`, { model_version_id: '00000000-0000-4000-8000-000000000000' });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.json.field, 'model_version_id');
    const wrongKind = await p.post(`/api/deployment/${deploymentId}/shadow`, { model_version_id: detector.json.id });
    assert.equal(wrongKind.status, 422);
    assert.match(wrongKind.json.message, /OBJECT_DETECTION/);
    assert.equal((await p.post(`/api/deployment/${deploymentId}/shadow`, { model_version_id: v1 })).status, 422, 'the champion cannot also be the shadow');
    assert.equal((await p.post(`/api/deployment/${deploymentId}/model`, {})).json.field, 'model_version_id');
    assert.equal((await httpRequest(`${first.server.url}/api/deployment/${deploymentId}/model`, { method: 'POST', body: JSON.stringify({ model_version_id: v2 }) })).status, 401);

    // Promotion as the SDK does it: set_model(shadow); the shadow slot is emptied.
    const promoted = await p.post(`/api/deployment/${deploymentId}/model`, { model_version_id: v2 });
    assert.deepEqual([promoted.json.model_version_id, promoted.json.shadow_model_version_id], [v2, null]);
    assert.equal((await p.post(`/api/deployment/${deploymentId}/promote`, {})).status, 409, 'no shadow left to promote');
    assert.equal((await p.post(`/api/deployment/${deploymentId}/shadow`, { model_version_id: v1 })).status, 200);
    assert.equal((await p.post(`/api/deployment/${deploymentId}/promote`, { shadow_model_version_id: v2 })).status, 409, 'promotes only the shadow the verdict was about');
    const viaPromote = await p.post(`/api/deployment/${deploymentId}/promote`, { shadow_model_version_id: v1 });
    assert.deepEqual([viaPromote.json.model_version_id, viaPromote.json.shadow_model_version_id], [v1, null]);

    await first.server.close();
    const second = await startTestServer(t, { ...(await on(t)), dataDir, token });
    const again = await platform(second.server.url, token).get(`/api/deployment/${deploymentId}`);
    assert.deepEqual([again.json.model_version_id, again.json.shadow_model_version_id], [v1, null]);
  });

  await t.test('registry, asset and verdict paths: credentials are checked before the path is decoded (401 without, 400 with a malformed %-encoding)', async (t) => {
    const { server } = await startTestServer(t, await on(t));
    const { p } = await bootstrap(server.url, server.token);
    for (const [method, path] of [['GET', '/api/model/%ZZ/versions'], ['GET', '/api/model/version/%ZZ'], ['GET', '/api/predicted/asset/%ZZ'], ['POST', '/api/predicted/asset/%ZZ/reviews'], ['GET', '/api/deployment/%ZZ/verdict'], ['POST', '/api/deployment/%ZZ/model']] as const) {
      assert.equal((await httpRequest(`${server.url}${path}`, { method, ...(method === 'POST' ? { body: '{}' } : {}) })).status, 401, `${method} ${path} without credentials`);
      const withToken = method === 'GET' ? await p.get(path) : await p.post(path, {});
      assert.equal(withToken.status, 400, `${method} ${path} with the token`);
    }
  });
}

testOnBothStores(cases);

test('presigned download URLs expire and are bound to their object', () => {
  let now = 1_000_000;
  const signer = new UrlSigner(Buffer.from('secret'), () => now);
  const url = new URL(signer.downloadUrl('http://h', 'a/b.zip', 60));
  const check = (name: string) => signer.checkDownload(name, url.searchParams.get('expires'), url.searchParams.get('signature'));
  assert.equal(check('a/b.zip'), 'ok');
  assert.equal(check('a/c.zip'), 'invalid');
  assert.equal(signer.checkDownload('a/b.zip', String(now + 3600), url.searchParams.get('signature')), 'invalid', 'a later expiry is not signed');
  now += 61;
  assert.equal(check('a/b.zip'), 'expired');
  const fields = signer.uploadFields('o', 10, 60);
  assert.equal(signer.checkUpload({ key: 'o', policy: fields.policy as string, signature: fields.signature as string }).ok, true);
  now += 61;
  assert.deepEqual(signer.checkUpload({ key: 'o', policy: fields.policy as string, signature: fields.signature as string }), { ok: false, reason: 'expired' });
});




