/** The dashboard's review tool in Chromium: disagreements first, reviews by key, the verdict, promotion with a confirm step; the link session reads only. */
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { platform } from './registry-sdk.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer } from './sdk.js';

const LABELS = ['cat', 'dog', 'bird'];

function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return problems;
}

test('review tool: keys review the disagreements first, the verdict settles, Promote shadow asks to confirm, then the shadow is champion', { timeout: 90_000 }, async (t) => {
  const browser = await launchBrowser(t, process.env.EDGEWATCH_SKIP_BROWSER === '1');
  if (browser === null) return;
  const { server } = await startTestServer(t, { labels: LABELS });
  const h = await sdkHandshake(server.url, server.token);
  const p = platform(server.url, server.token, h.organizationId);
  const model = await p.post(`/api/organization/${h.organizationId}/models`, { name: 'classifier' });
  const v1 = (await p.post(`/api/model/${model.json.id}/versions`, { name: 'v1', type: 'CLASSIFICATION' })).json.id as string;
  const v2 = (await p.post(`/api/model/${model.json.id}/versions`, { name: 'v2', type: 'CLASSIFICATION' })).json.id as string;
  await p.post(`/api/deployment/${h.deploymentId}/model`, { model_version_id: v1 });
  await p.post(`/api/deployment/${h.deploymentId}/shadow`, { model_version_id: v2 });

  // 8 disagreements (champion says cat, shadow dog; the truth is dog on all of them), then 4 agreements on bird.
  const truth = new Map<string, string>();
  for (let i = 0; i < 12; i++) {
    const disagree = i < 8;
    const res = await postMonitor(h, monitorBody({ image: await makeJpeg(120, 90, 400 + i), width: 120, height: 90, filename: `frame_${i}.jpg`, champion: classification(disagree ? 0 : 2, 0.8), shadow: classification(disagree ? 1 : 2, 0.7), latencyS: 0.01, timestamp: Date.now() / 1000 - 100 + i }));
    assert.equal(res.status, 201, res.text);
    truth.set(res.json.id, disagree ? 'dog' : 'bird');
  }

  const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  const problems = watchProblems(page);
  await page.goto(server.url);
  await page.fill('#signin-token', server.token);
  await page.click('#signin-form button[type="submit"]');
  await page.waitForSelector('#review[data-state="ready"][data-write="true"]', { timeout: 20_000 });
  problems.length = 0; // the page's first look, before signing in, is a 401 by design

  const reviewed: string[] = [];
  for (let n = 0; n < 10; n++) {
    const id = (await page.getAttribute('#review-item', 'data-id')) as string;
    const disagreement = await page.isVisible('#review-item .review-figure.disagree');
    assert.equal(disagreement, n < 8, `item ${n}: disagreements come first`);
    const label = truth.get(id) as string;
    await page.keyboard.press(String(LABELS.indexOf(label) + 1));
    await page.waitForFunction((prev) => document.getElementById('review-item')?.dataset.id !== prev, id, { timeout: 10_000 });
    reviewed.push(id);
  }
  // "neither" by key on the 11th, by click on the 12th.
  await page.keyboard.press('n');
  await page.waitForFunction(() => document.querySelectorAll('#review-item .review-figure').length === 1 && document.getElementById('review-item')?.dataset.id !== undefined);
  await page.click('#review-item button.neither');
  await page.waitForSelector('#review[data-state="empty"]', { timeout: 10_000 });

  const api = await p.get(`/api/deployment/${h.deploymentId}/verdict`);
  assert.equal(api.json.reviewed.total, 12);
  assert.deepEqual([api.json.paired.onlyShadowRight, api.json.paired.onlyChampionRight], [8, 0]);
  assert.equal(api.json.settled, true);
  await page.waitForFunction((s) => document.getElementById('verdict-sentence')?.textContent === s, api.json.sentence, { timeout: 10_000 });
  assert.match(api.json.sentence, /^shadow better by 66\.7 points \(\d+\.\d–\d+\.\d\), p = 0\.008, from 8 reviewed disagreements$/);

  await page.click('#promote');
  await page.waitForSelector('#promote-confirm:not([hidden])');
  const summary = await page.textContent('#promote-summary');
  assert.ok(summary?.includes(api.json.sentence), `the confirm step shows the verdict: ${summary}`);
  const before = await p.get(`/api/deployment/${h.deploymentId}`);
  assert.equal(before.json.model_version_id, v1, 'nothing happens before the confirmation');
  await page.click('#promote-ok');
  await page.waitForSelector(`#review[data-promoted="${v2}"]`, { timeout: 10_000 });
  const after = await p.get(`/api/deployment/${h.deploymentId}`);
  assert.deepEqual([after.json.model_version_id, after.json.shadow_model_version_id], [v2, null]);
  await page.waitForFunction(() => document.getElementById('promote')?.hidden === true, undefined, { timeout: 10_000 });
  await page.waitForSelector('#verdict-previous:not([hidden])', { timeout: 10_000 });
  const previous = await page.textContent('#verdict-previous');
  assert.ok(previous?.startsWith('Previous period (champion classifier v1 · shadow classifier v2') && previous.endsWith(api.json.sentence), previous ?? '');
  assert.deepEqual(problems, []);

  // The printed link opens a read-only session: the verdict is shown, nothing can be reviewed or promoted.
  const more = await postMonitor(h, monitorBody({ image: await makeJpeg(120, 90, 999), width: 120, height: 90, champion: classification(0, 0.8), latencyS: 0.01 }));
  assert.equal(more.status, 201);
  await p.post(`/api/deployment/${h.deploymentId}/shadow`, { model_version_id: v1 });
  await postMonitor(h, monitorBody({ image: await makeJpeg(120, 90, 1000), width: 120, height: 90, champion: classification(0, 0.8), shadow: classification(1, 0.6), latencyS: 0.01 }));
  const reader = await (await browser.newContext()).newPage();
  const readerProblems = watchProblems(reader);
  await reader.goto(server.dashboardUrl);
  await reader.waitForSelector('#review[data-state="ready"][data-write="false"]', { timeout: 20_000 });
  assert.equal(await reader.isVisible('#review-readonly'), true);
  assert.equal(await reader.isHidden('#promote'), true);
  assert.equal(await reader.isDisabled('#review-item button.label-btn >> nth=0'), true);
  await reader.keyboard.press('1');
  const stillOpen = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/predictedassets?review_status=TO_REVIEW&period=current`, { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(stillOpen.json.count, 1, 'a key press in a read-only session reviews nothing');
  assert.deepEqual(readerProblems, []);
});
