/** `edgewatch models push` against the Picsellia stand-in: model and version created, one zip with its files at the root uploaded by presigned POST without the token, ModelFile registered, champion/shadow set; bad input refused with codes. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { unpackModelZip } from '../../src/models/model-zip.js';
import { startFakePicsellia } from '../helpers/fake-picsellia.js';
import { runCli } from '../helpers/cli.js';
import { DEMO_CHAMPION, DEMO_SHADOW, tempDir } from '../helpers/models.js';

test('models push uploads the folder as one zip through the SDK upload chain and sets the champion, then the shadow', async (t) => {
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  t.after(() => fake.close());
  const env = { PICSELLIA_API_TOKEN: fake.apiToken };
  const base = ['--host', fake.url, '--model', 'shapes'];

  const first = await runCli(['models', 'push', DEMO_CHAMPION, ...base, '--version-name', 'v1', '--deployment', fake.state.deployment.name, '--as', 'champion'], env);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /pushed .* as shapes v1 .*now the champion of line-3/);
  assert.equal(fake.requestsOf('modelCreate').length, 1);
  const [v1] = [...fake.registry.versions.values()];
  assert.ok(v1);
  assert.equal(fake.state.deployment.modelVersionId, v1.id);
  assert.deepEqual(v1.labels, { '0': 'circle', '1': 'square', '2': 'triangle', '3': 'cross', '4': 'stripes' });
  assert.equal(v1.type, 'CLASSIFICATION');
  assert.equal(v1.framework, 'TENSORFLOW');
  const file = v1.files[0];
  assert.equal(file?.name, 'model-tfjs');
  assert.equal(file?.large, false);
  const zip = fake.registry.objects.get(file!.object_name);
  assert.ok(zip, 'uploaded');
  assert.deepEqual([...unpackModelZip(zip, 'pushed').keys()].sort(), ['edgewatch.json', 'model.json', 'weights.bin'], 'entries at the root');
  const gon = JSON.parse(fake.requestsOf('generateObjectName')[0]!.body.toString()) as Record<string, unknown>;
  assert.deepEqual(gon, { filename: 'model-tfjs.zip', type: 'MODEL_FILE', context: { model_version_id: v1.id } });
  assert.deepEqual(Object.keys(JSON.parse(fake.requestsOf('generatePresignedUrl')[0]!.body.toString()) as object).sort(), ['content_type', 'object_name']);
  assert.ok(fake.registry.storageRequests.every((r) => r.authorization === undefined), 'the token never reaches storage');

  const second = await runCli(['models', 'push', DEMO_SHADOW, ...base, '--version-name', 'v2', '--deployment', fake.state.deployment.name, '--as', 'shadow'], env);
  assert.equal(second.code, 0, second.err);
  assert.equal(fake.requestsOf('modelCreate').length, 1, 'the model is found the second time');
  assert.equal(fake.registry.versions.size, 2);
  const v2 = [...fake.registry.versions.values()].find((v) => v.name === 'v2');
  assert.equal(fake.state.deployment.shadowModelVersionId, v2?.id);
  assert.equal(fake.state.deployment.modelVersionId, v1.id);
  assert.deepEqual(fake.violations, []);
});

test('models push refuses a folder without model.json, a missing folder, --as without --deployment, and two folders, with codes', async (t) => {
  const fake = await startFakePicsellia({ organization: { defaultConnectorId: 'conn-1' } });
  t.after(() => fake.close());
  const env = { PICSELLIA_API_TOKEN: fake.apiToken };
  const dir = await tempDir(t);
  const saved = join(dir, 'saved');
  await mkdir(saved);
  await writeFile(join(saved, 'edgewatch.json'), JSON.stringify({ task: 'CLASSIFICATION', labels: ['a'] }));
  await writeFile(join(saved, 'saved_model.pb'), 'pb');
  const base = ['--host', fake.url, '--model', 'm'];
  const notTfjs = await runCli(['models', 'push', saved, ...base], env);
  assert.equal(notTfjs.code, 2);
  assert.match(notTfjs.err, /EW_MODEL_NOT_TFJS: .*tensorflowjs_converter/);
  const missing = await runCli(['models', 'push', join(dir, 'nope'), ...base], env);
  assert.match(missing.err, /EW_MODEL_LOAD: .*not a folder/);
  const asAlone = await runCli(['models', 'push', DEMO_CHAMPION, ...base, '--as', 'shadow'], env);
  assert.match(asAlone.err, /EW_CONFIG_INVALID: --deployment and --as go together/);
  const two = await runCli(['models', 'push', DEMO_CHAMPION, DEMO_SHADOW, ...base], env);
  assert.match(two.err, /EW_USAGE: models push needs exactly one model folder/);
  const noConnector = await startFakePicsellia();
  t.after(() => noConnector.close());
  const refused = await runCli(['models', 'push', DEMO_CHAMPION, '--host', noConnector.url, '--model', 'm'], { PICSELLIA_API_TOKEN: noConnector.apiToken });
  assert.match(refused.err, /EW_MODEL_DOWNLOAD: .*no default storage connector/);
  assert.equal(fake.registry.versions.size, 0, 'nothing created');
  assert.deepEqual(fake.violations, []);
});
