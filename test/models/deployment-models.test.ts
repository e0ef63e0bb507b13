/** Models from the deployment: safe unzip (zip-slip, symlink, entry count, bomb, not TF.js), download through presigned URLs without the token, 403 → one new URL, cache by version and file, labels from the model version. */
import assert from 'node:assert/strict';
import { readFile, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isEdgewatchError } from '../../src/errors.js';
import { unpackModelZip } from '../../src/models/model-zip.js';
import { fetchModelVersion, labelsFromVersion } from '../../src/models/version-cache.js';
import { ModelRegistryApi } from '../../src/monitor/model-registry-api.js';
import { readManifest } from '../../src/infer/manifest.js';
import { startFakePicsellia, type FakePicsellia } from '../helpers/fake-picsellia.js';
import { DEMO_CHAMPION, tempDir } from '../helpers/models.js';
import { zipFolder, zipOf } from '../helpers/model-zips.js';

const code = (c: string) => (err: unknown) => isEdgewatchError(err) && err.code === c;

test('unpackModelZip: model.json at the root, or inside one folder (stripped)', async () => {
  const flat = unpackModelZip(await zipFolder(DEMO_CHAMPION), 'flat');
  assert.deepEqual([...flat.keys()].sort(), ['edgewatch.json', 'model.json', 'weights.bin']);
  const nested = unpackModelZip(zipOf({ 'm/model.json': '{}', 'm/weights.bin': 'x' }), 'nested');
  assert.deepEqual([...nested.keys()].sort(), ['model.json', 'weights.bin']);
});

test('unpackModelZip refuses path escapes, absolute paths, symlinks, too many entries and bombs with EW_MODEL_ZIP_UNSAFE', () => {
  assert.throws(() => unpackModelZip(zipOf({ '../evil.json': 'x', 'model.json': '{}' }), 'slip'), (err) => code('EW_MODEL_ZIP_UNSAFE')(err) && /escapes/.test((err as Error).message));
  assert.throws(() => unpackModelZip(zipOf({ 'a/../../evil': 'x', 'model.json': '{}' }), 'slip2'), code('EW_MODEL_ZIP_UNSAFE'));
  assert.throws(() => unpackModelZip(zipOf({ '/etc/evil': 'x', 'model.json': '{}' }), 'abs'), code('EW_MODEL_ZIP_UNSAFE'));
  assert.throws(() => unpackModelZip(zipOf({ 'a\\..\\evil': 'x', 'model.json': '{}' }), 'backslash'), code('EW_MODEL_ZIP_UNSAFE'));
  const link = zipOf({ 'model.json': '{}', 'weights.bin': { data: '/etc/passwd', os: 3, attrs: (0o120777 << 16) >>> 0 } });
  assert.throws(() => unpackModelZip(link, 'symlink'), (err) => code('EW_MODEL_ZIP_UNSAFE')(err) && /symbolic link/.test((err as Error).message));
  const many = zipOf(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}.bin`, 'x'])));
  assert.throws(() => unpackModelZip(many, 'many', { maxEntries: 20, maxTotalBytes: 1e6 }), (err) => code('EW_MODEL_ZIP_UNSAFE')(err) && /30 entries/.test((err as Error).message));
  const bomb = zipOf({ 'model.json': '{}', 'weights.bin': new Uint8Array(8 * 1024 * 1024) });
  assert.ok(bomb.length < 100_000, 'the bomb is small compressed');
  assert.throws(() => unpackModelZip(bomb, 'bomb', { maxEntries: 20, maxTotalBytes: 1024 * 1024 }), (err) => code('EW_MODEL_ZIP_UNSAFE')(err) && /decompression bomb/.test((err as Error).message));
  // A bomb whose headers lie about its size: inflated no further than the declared 10 bytes.
  const forged = Buffer.from(bomb);
  const v = new DataView(forged.buffer, forged.byteOffset, forged.length);
  for (let i = 0; i < forged.length - 60; i++) {
    const sig = v.getUint32(i, true);
    if (sig === 0x04034b50 && forged.subarray(i + 30, i + 41).toString() === 'weights.bin') v.setUint32(i + 22, 10, true);
    if (sig === 0x02014b50 && forged.subarray(i + 46, i + 57).toString() === 'weights.bin') v.setUint32(i + 24, 10, true);
  }
  const unpacked = unpackModelZip(forged, 'forged', { maxEntries: 20, maxTotalBytes: 1024 * 1024 });
  assert.equal(unpacked.get('weights.bin')?.length, 10);
});

test('unpackModelZip: a SavedModel, a Keras file or no model.json is EW_MODEL_NOT_TFJS naming tensorflowjs_converter; not a zip too', () => {
  const saved = zipOf({ 'saved_model.pb': 'pb', 'variables/variables.index': 'i' });
  assert.throws(() => unpackModelZip(saved, 'saved'), (err) => code('EW_MODEL_NOT_TFJS')(err) && /tensorflowjs_converter --input_format=tf_saved_model/.test((err as Error).message));
  assert.throws(() => unpackModelZip(zipOf({ 'model.h5': 'h5' }), 'keras'), (err) => code('EW_MODEL_NOT_TFJS')(err) && /--input_format=keras/.test((err as Error).message));
  assert.throws(() => unpackModelZip(zipOf({ 'readme.txt': 'x' }), 'none'), (err) => code('EW_MODEL_NOT_TFJS')(err) && /tensorflowjs_converter/.test((err as Error).message));
  assert.throws(() => unpackModelZip(Buffer.from('not a zip at all, just text'), 'text'), code('EW_MODEL_NOT_TFJS'));
});

test('labelsFromVersion: 0-based maps by index, 1-based maps in key order', () => {
  assert.deepEqual(labelsFromVersion({ '1': 'b', '0': 'a', '2': 'c' }), ['a', 'b', 'c']);
  assert.deepEqual(labelsFromVersion({ '2': 'dog', '1': 'cat' }), ['cat', 'dog']);
  assert.equal(labelsFromVersion(null), undefined);
});

async function registryFor(t: import('node:test').TestContext, fake: FakePicsellia): Promise<{ api: ModelRegistryApi; organizationId: string }> {
  const api = new ModelRegistryApi({ host: fake.url, apiToken: fake.apiToken, requestTimeoutMs: 10_000, userAgent: 'test' });
  t.after(() => api.close());
  const found = await api.findDeployment({ deployment: fake.state.deployment.name });
  return { api, organizationId: found.organizationId };
}

test('fetchModelVersion: downloads through retrieve_presigned_url without the token, caches by version and file, adds the version labels', async (t) => {
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  t.after(() => fake.close());
  const cacheDir = join(await tempDir(t), 'models');
  const zip = await zipFolder(DEMO_CHAMPION, { omit: ['edgewatch.json'] });
  const versionId = fake.registry.addVersion({ model: 'shapes', labels: { '0': 'circle', '1': 'square', '2': 'triangle', '3': 'cross', '4': 'stripes' }, zip });
  const { api, organizationId } = await registryFor(t, fake);
  const o = { api, organizationId, versionId, fileName: 'model-tfjs', cacheDir, deploymentType: 'CLASSIFICATION', timeoutMs: 10_000 };

  const first = await fetchModelVersion(o);
  assert.equal(first.cached, false);
  assert.equal(first.sizeBytes, zip.length);
  assert.equal(fake.requestsOf('retrievePresignedUrl').length, 1);
  assert.deepEqual(JSON.parse(fake.requestsOf('retrievePresignedUrl')[0]!.body.toString()), { object_name: fake.registry.versions.get(versionId)!.files[0]!.object_name });
  assert.equal(fake.registry.storageRequests.length, 1);
  assert.equal(fake.registry.storageRequests[0]!.authorization, undefined, 'no Authorization header on the storage URL');
  const manifest = JSON.parse(await readFile(join(first.dir, 'edgewatch.json'), 'utf8')) as { labels: string[]; task: string; name: string };
  assert.deepEqual(manifest.labels, ['circle', 'square', 'triangle', 'cross', 'stripes']);
  assert.equal(manifest.task, 'CLASSIFICATION');
  assert.equal((await readManifest(first.dir)).manifest.labels.length, 5, 'a manifest edgewatch accepts');

  const again = await fetchModelVersion(o);
  assert.equal(again.cached, true);
  assert.equal(again.dir, first.dir);
  assert.equal(fake.registry.storageRequests.length, 1, 'served from the cache');
  // A cached shard damaged on disk: the folder is not trusted, the file is downloaded again.
  await truncate(join(first.dir, 'weights.bin'), 10);
  const repaired = await fetchModelVersion(o);
  assert.equal(repaired.cached, false);
  assert.equal(fake.registry.storageRequests.length, 2);
  assert.equal((await stat(join(repaired.dir, 'weights.bin'))).size, 19988);

  // store(replace=True) gives the version a new file: downloaded again, into another folder.
  const v = fake.registry.versions.get(versionId)!;
  const objectName = `models/${versionId}/replaced.zip`;
  fake.registry.objects.set(objectName, await zipFolder(DEMO_CHAMPION));
  v.files = [{ id: 'file-2', name: 'model-tfjs', object_name: objectName, filename: 'replaced.zip', large: false }];
  const replaced = await fetchModelVersion(o);
  assert.equal(replaced.cached, false);
  assert.notEqual(replaced.dir, first.dir);
  assert.ok(!(await readdir(join(cacheDir, versionId))).some((n) => n.includes('.partial-')), 'no partial folder left');
  assert.deepEqual(fake.violations, []);
});

test('fetchModelVersion: a 403 from storage asks for a new URL once; a second 403 is EW_MODEL_DOWNLOAD', async (t) => {
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  t.after(() => fake.close());
  const cacheDir = join(await tempDir(t), 'models');
  const versionId = fake.registry.addVersion({ model: 'shapes', zip: await zipFolder(DEMO_CHAMPION), presigned: true });
  fake.registry.expireUrls(); // the ModelFile's own presigned_url has expired
  const { api, organizationId } = await registryFor(t, fake);
  const o = { api, organizationId, versionId, fileName: 'model-tfjs', cacheDir, deploymentType: 'CLASSIFICATION', timeoutMs: 10_000 };
  const fetched = await fetchModelVersion(o);
  assert.equal(fetched.cached, false);
  assert.deepEqual(fake.registry.storageRequests.map((r) => r.status), [403, 200]);
  assert.equal(fake.requestsOf('retrievePresignedUrl').length, 1, 'one new URL');

  const other = fake.registry.addVersion({ model: 'shapes', zip: await zipFolder(DEMO_CHAMPION) });
  fake.script('storage', { status: 403 }, { status: 403 });
  await assert.rejects(fetchModelVersion({ ...o, versionId: other }), code('EW_MODEL_DOWNLOAD'));
  assert.equal(fake.requestsOf('retrievePresignedUrl').length, 3, 'first URL, then one new one');
  assert.ok(fake.registry.storageRequests.every((r) => r.authorization === undefined));
  assert.deepEqual(fake.violations, []);
});

test('fetchModelVersion: a missing model file, a SavedModel and a zip-slip are refused with their codes and leave nothing in the cache', async (t) => {
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  t.after(() => fake.close());
  const cacheDir = join(await tempDir(t), 'models');
  const { api, organizationId } = await registryFor(t, fake);
  const base = { api, organizationId, fileName: 'model-tfjs', cacheDir, deploymentType: 'CLASSIFICATION', timeoutMs: 10_000 };
  const wrongName = fake.registry.addVersion({ model: 'm', zip: await zipFolder(DEMO_CHAMPION), fileName: 'model-latest' });
  await assert.rejects(fetchModelVersion({ ...base, versionId: wrongName }), (err) => code('EW_MODEL_FILE_MISSING')(err) && /model-tfjs/.test((err as Error).message));
  const saved = fake.registry.addVersion({ model: 'm', zip: zipOf({ 'saved_model.pb': 'x', 'variables/variables.data-00000-of-00001': 'y' }) });
  await assert.rejects(fetchModelVersion({ ...base, versionId: saved }), code('EW_MODEL_NOT_TFJS'));
  const slip = fake.registry.addVersion({ model: 'm', zip: zipOf({ 'model.json': '{}', '../../outside.bin': 'x' }) });
  await assert.rejects(fetchModelVersion({ ...base, versionId: slip }), code('EW_MODEL_ZIP_UNSAFE'));
  const left = await readdir(cacheDir).catch(() => []);
  assert.deepEqual(left, [], 'nothing unpacked');
  assert.deepEqual(fake.violations, []);
});
