/** Against the real `edgewatch serve`: push two models, set champion and shadow, run an agent on `--champion deployment --shadow deployment`, promote, and see the next predictions carry the new model version; a broken version keeps the running models. Reports the time from promotion to the first prediction on the new champion. */
import assert from 'node:assert/strict';
import { cp, mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { jpegBytes } from '../helpers/images.js';
import { DEMO_CHAMPION, DEMO_SHADOW, startAgent, startService, tempFolder, waitUntil } from '../helpers/service.js';

interface Named {
  name: string;
  modelVersionId?: string;
}

test('serve end to end: push, set champion and shadow, agent follows a promotion without restart; a broken version keeps the old model', async (t) => {
  const service = await startService(t);
  const dir = await tempFolder(t);
  const env = { PICSELLIA_API_TOKEN: service.token };
  const push = async (folder: string, version: string, as?: 'champion' | 'shadow') => {
    const r = await runCli(['models', 'push', folder, '--host', service.url, '--organization', 'edge', '--model', 'shapes', '--version-name', version, ...(as ? ['--deployment', 'demo', '--as', as] : [])], env);
    assert.equal(r.code, 0, r.err);
    const id = /model version ([^,\s)]+)/.exec(r.out)?.[1];
    assert.ok(id, r.out);
    return id;
  };
  const v1 = await push(DEMO_CHAMPION, 'v1', 'champion');
  const v2 = await push(DEMO_SHADOW, 'v2', 'shadow');

  const platform = (path: string, init: RequestInit = {}) =>
    fetch(`${service.url}${path}`, { ...init, headers: { authorization: `Bearer ${service.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const deployment = (await (await platform(`/api/deployment/${service.deploymentId}`)).json()) as { model_version_id: string; shadow_model_version_id: string | null };
  assert.equal(deployment.model_version_id, v1);
  assert.equal(deployment.shadow_model_version_id, v2);

  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const argv = [
    'run', '--watch', inbox, '--champion', 'deployment', '--shadow', 'deployment', '--model-poll-s', '0.5',
    '--host', service.url, '--organization', 'edge', '--deployment', 'demo', '--state-dir', join(dir, 'state'),
    '--stable-ms', '20', '--workers', '1', '--log-format', 'json',
  ];
  const { agent, logs } = await startAgent(t, argv, env);
  assert.equal(agent.models.champion?.modelVersionId, v1);

  const db = new Database(join(service.dataDir, 'monitoring.db'), { readonly: true, fileMustExist: true });
  t.after(() => db.close());
  const stored = () =>
    (db.prepare('SELECT filename, received_s, custom_metadata_json FROM predictions WHERE deployment_id = ? ORDER BY rowid').all(service.deploymentId) as { filename: string; received_s: number; custom_metadata_json: string }[]).map((r) => ({
      filename: r.filename,
      receivedS: r.received_s,
      ...(JSON.parse(r.custom_metadata_json) as { edgewatch: { champion: Named; shadow?: Named } }).edgewatch,
    }));
  let n = 0;
  const drop = async () => {
    n += 1;
    await writeFile(join(inbox, `img-${n}.jpg`), await jpegBytes({ width: 80 + n, height: 60 }));
  };
  for (let i = 0; i < 3; i++) await drop();
  await waitUntil(() => stored().length === 3, 60_000, 'three predictions');
  for (const p of stored()) {
    assert.equal(p.champion.modelVersionId, v1);
    assert.equal(p.shadow?.modelVersionId, v2);
  }

  // Promote the shadow (the SDK's set_model), images keep arriving one by one.
  const promotedAtS = Date.now() / 1000;
  const promoted = await platform(`/api/deployment/${service.deploymentId}/model`, { method: 'POST', body: JSON.stringify({ model_version_id: v2 }) });
  assert.ok(promoted.ok, `promotion answered ${promoted.status}`);
  await promoted.json();
  while (!stored().some((p) => p.champion.modelVersionId === v2)) {
    await drop();
    await waitUntil(() => stored().length === n, 60_000, `prediction ${n}`);
  }
  const first = stored().find((p) => p.champion.modelVersionId === v2);
  const promotionToPredictionMs = Math.round(((first?.receivedS ?? 0) - promotedAtS) * 1000);
  const swapLog = logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('models swapped'));
  t.diagnostic(`promotion to the first prediction on the new champion: ${promotionToPredictionMs} ms, of which loading and warming up the new pair: ${String(swapLog?.loadMs)} ms (--model-poll-s 0.5, demo models, 1 worker per model)`);

  // A broken version (a shard cut short) set as champion: the running models stay.
  const broken = join(dir, 'broken');
  await cp(DEMO_SHADOW, broken, { recursive: true });
  await truncate(join(broken, 'weights.bin'), 1000);
  const v3 = await push(broken, 'v3-broken', 'champion');
  await waitUntil(() => logs.some((l) => l.code === 'EW_MODEL_SWAP_FAILED'), 60_000, 'the swap failure');
  await drop();
  await waitUntil(() => stored().length === n, 60_000, 'a prediction after the failure');
  const after = stored().at(-1);
  assert.equal(after?.champion.modelVersionId, v2, 'still the promoted champion');
  assert.notEqual(agent.models.champion?.modelVersionId, v3);
  assert.equal(logs.filter((l) => l.code === 'EW_MODEL_SWAP_FAILED').length, 1);

  const names = stored().map((p) => p.filename);
  assert.equal(new Set(names).size, names.length, 'no duplicate');
  assert.equal(names.length, n, 'no image lost');
});
