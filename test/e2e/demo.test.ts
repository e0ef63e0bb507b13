/** `npm start`'s pieces together: the feeder's images go through the agent into the embedded service and show on the dashboard in Chromium. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDemo } from '../../src/demo/start-demo.js';
import { launchBrowser } from '../helpers/browser.js';
import { tempDir } from '../helpers/images.js';

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('demo: 8 generated images are monitored with both models and fill the dashboard', async (t) => {
  const dir = await tempDir(t);
  const demo = await startDemo({ dataDir: dir, port: 0, intervalMs: 20, limit: 8 });
  t.after(() => demo.close());
  // Every champion prediction monitored, and every shadow one too (in the request, or late when the shadow was behind).
  await until(() => {
    const s = demo.agent.summary();
    return s.monitored === 8 && s.shadowLate === s.shadowDeferred && s.pending === 0;
  }, '8 monitored predictions with their shadows');

  const deployment = demo.server.organizations[0]!.deployments[0]!;
  const stats = (await (await fetch(`${demo.server.url}/api/deployment/${deployment.id}/stats`, { headers: { authorization: `Bearer ${demo.server.token}` } })).json()) as {
    counts: { predictions: number; withShadow: number };
    models: { champion: { name: string }[]; shadow: { name: string }[] };
    confusion: { matrix: number[][] };
    classes: unknown[];
  };
  assert.equal(stats.counts.predictions, 8);
  assert.equal(stats.counts.withShadow, 8);
  assert.match(stats.models.champion[0]?.name ?? '', /^demo-champion/);
  assert.match(stats.models.shadow[0]?.name ?? '', /^demo-shadow/);

  const browser = await launchBrowser(t, process.env.EDGEWATCH_SKIP_BROWSER === '1');
  if (!browser) return;
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.goto(demo.server.dashboardUrl);
  await page.waitForFunction(() => document.querySelectorAll('#gallery .gallery-item').length === 8, null, { timeout: 20_000 });
  const cells = await page.$$eval('#confusion td.cm-cell', (c) => c.length);
  assert.equal(cells, stats.classes.length ** 2, 'one cell per (champion class, shadow class) seen');
  const canvases = await page.$$eval('canvas', (list) => list.filter((c) => (c as HTMLCanvasElement).width > 100).length);
  assert.ok(canvases >= 4, `charts drawn (${canvases})`);
  assert.ok(((await page.textContent('body')) ?? '').includes('demo-champion'));
  assert.match((await page.textContent('#kpi-count-sub')) ?? '', /8 with a shadow prediction · shadow coverage 100\.0%/, 'shadow coverage, late shadows included');
  assert.deepEqual(problems, []);
});
