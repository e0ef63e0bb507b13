/**
 * Issue 11 end to end against the real `edgewatch serve`: push two models, run an agent on `--champion deployment
 * --shadow deployment`, review the disagreements in the dashboard (Chromium, by key), read the verdict, promote from the
 * dashboard (confirm step), and see the agent's next predictions carry the new champion's version without a restart.
 * Reports the time from the confirmed promotion to the first stored prediction on the new champion.
 */
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SHAPE_LABELS, makeShapeImage } from '../../src/demo/shapes.js';
import { launchBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { DEMO_CHAMPION, DEMO_SHADOW, startAgent, startService, tempFolder, waitUntil } from '../helpers/service.js';

test('review in the dashboard, verdict, promote from the dashboard: the agent follows without a restart', { timeout: 180_000 }, async (t) => {
  const browser = await launchBrowser(t, process.env.EDGEWATCH_SKIP_BROWSER === '1');
  if (browser === null) return;
  const service = await startService(t);
  const dir = await tempFolder(t);
  const env = { PICSELLIA_API_TOKEN: service.token };
  const push = async (folder: string, version: string, as: 'champion' | 'shadow') => {
    const r = await runCli(['models', 'push', folder, '--host', service.url, '--organization', 'edge', '--model', 'shapes', '--version-name', version, '--deployment', 'demo', '--as', as], env);
    assert.equal(r.code, 0, r.err);
    return /model version ([^,\s)]+)/.exec(r.out)?.[1] as string;
  };
  const v1 = await push(DEMO_CHAMPION, 'v1', 'champion');
  const v2 = await push(DEMO_SHADOW, 'v2', 'shadow');

  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const argv = ['run', '--watch', inbox, '--champion', 'deployment', '--shadow', 'deployment', '--model-poll-s', '0.5', '--host', service.url, '--organization', 'edge', '--deployment', 'demo', '--state-dir', join(dir, 'state'), '--stable-ms', '20', '--workers', '1', '--log-format', 'json'];
  await startAgent(t, argv, env);
  const db = new Database(join(service.dataDir, 'monitoring.db'), { readonly: true, fileMustExist: true });
  t.after(() => db.close());
  const champions = () => (db.prepare("SELECT received_s AS r, json_extract(custom_metadata_json, '$.edgewatch.champion.modelVersionId') AS v FROM predictions ORDER BY rowid").all() as { r: number; v: string }[]);
  let n = 0;
  const drop = async () => {
    const label = SHAPE_LABELS[n % SHAPE_LABELS.length] as (typeof SHAPE_LABELS)[number];
    n += 1;
    await writeFile(join(inbox, `shape-${n}.jpg`), await makeShapeImage(label, 100 + n, 96));
  };
  for (let i = 0; i < 20; i++) await drop();
  await waitUntil(() => champions().length === 20, 60_000, '20 predictions');
  assert.ok(champions().every((p) => p.v === v1));

  const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(service.url);
  await page.fill('#signin-token', service.token);
  await page.click('#signin-form button[type="submit"]');
  await page.waitForSelector('#review[data-write="true"][data-state]', { timeout: 20_000 });

  // Review the disagreements (the queue shows them first) by key, taking the shadow's answer as the truth.
  let disagreements = 0;
  while ((await page.getAttribute('#review', 'data-state')) === 'ready' && (await page.isVisible('#review-item .review-figure.disagree'))) {
    const id = (await page.getAttribute('#review-item', 'data-id')) as string;
    const shadowLabel = (await page.textContent('#review-item .pred.shadow b'))?.trim() as string;
    const labels = await page.$$eval('#review-item button.label-btn', (bs) => bs.map((b) => (b as HTMLButtonElement).dataset.label));
    await page.keyboard.press(String(labels.indexOf(shadowLabel) + 1));
    await page.waitForFunction((prev) => document.getElementById('review-item')?.dataset.id !== prev, id, { timeout: 10_000 });
    disagreements += 1;
  }
  const verdict = (await (await fetch(`${service.url}/api/deployment/${service.deploymentId}/verdict`, { headers: { authorization: `Bearer ${service.token}` } })).json()) as { sentence: string; reviewed: { disagreements: number }; paired: { onlyShadowRight: number } };
  assert.equal(verdict.reviewed.disagreements, disagreements);
  await page.waitForFunction((s) => document.getElementById('verdict-sentence')?.textContent === s, verdict.sentence, { timeout: 10_000 });
  t.diagnostic(`disagreements reviewed in the dashboard: ${disagreements} of 20 images; verdict: ${verdict.sentence}`);

  await page.click('#promote');
  await page.waitForSelector('#promote-confirm:not([hidden])');
  assert.ok((await page.textContent('#promote-summary'))?.includes(verdict.sentence));
  const promotedAtS = Date.now() / 1000;
  await page.click('#promote-ok');
  await page.waitForSelector(`#review[data-promoted="${v2}"]`, { timeout: 10_000 });
  while (!champions().some((p) => p.v === v2)) {
    await drop();
    await waitUntil(() => champions().length === n, 60_000, `prediction ${n}`);
  }
  const first = champions().find((p) => p.v === v2) as { r: number };
  t.diagnostic(`dashboard promotion to the first prediction on the new champion: ${Math.round((first.r - promotedAtS) * 1000)} ms (--model-poll-s 0.5, demo models, 1 worker per model)`);
  const after = (await (await fetch(`${service.url}/api/deployment/${service.deploymentId}`, { headers: { authorization: `Bearer ${service.token}` } })).json()) as { model_version_id: string; shadow_model_version_id: string | null };
  assert.deepEqual([after.model_version_id, after.shadow_model_version_id], [v2, null]);
  assert.deepEqual(errors, []);
});
