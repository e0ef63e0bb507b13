/** The dashboard in headless Chromium: charts, heat map and gallery render with data, auto-refresh works, no console error, no failed request. */
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchBrowser } from '../helpers/browser.js';
import sharp from 'sharp';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer } from './sdk.js';

const LABELS = ['cat', 'dog', 'bird', 'fish'];

/** A small synthetic "camera frame": a gradient sky, ground and one shape whose colour depends on the class. */
async function scene(width: number, height: number, seed: number, classId: number, png: boolean): Promise<Buffer> {
  const hue = (seed * 47) % 360;
  const shapes = ['<circle cx="50%" cy="55%" r="22%"', '<rect x="30%" y="35%" width="40%" height="40%" rx="6"', '<polygon points="80,30 120,100 40,100"', '<ellipse cx="50%" cy="60%" rx="30%" ry="14%"'];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 160 120">
    <defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue},45%,55%)"/><stop offset="1" stop-color="hsl(${(hue + 40) % 360},35%,22%)"/></linearGradient></defs>
    <rect width="160" height="120" fill="url(#g)"/><rect y="88" width="160" height="32" fill="hsl(${(hue + 180) % 360},20%,25%)"/>
    ${shapes[classId % 4]} fill="hsl(${classId * 90},70%,60%)" stroke="#fff" stroke-width="2"/></svg>`;
  const img = sharp(Buffer.from(svg));
  return png ? img.png().toBuffer() : img.jpeg({ quality: 85 }).toBuffer();
}
const SCREENSHOT = '/tmp/edgewatch-dashboard.png';

test('dashboard renders champion vs shadow data in Chromium', { timeout: 60_000 }, async (t) => {
  const browser = await launchBrowser(t, process.env.EDGEWATCH_SKIP_BROWSER === '1');
  if (browser === null) return;
  const { server } = await startTestServer(t, { labels: LABELS });
  const h = await sdkHandshake(server.url, server.token);
  const now = Date.now() / 1000;
  const total = 120;
  for (let i = 0; i < total; i++) {
    const c = i < 80 ? [0, 0, 1, 2, 0, 1][i % 6] as number : [2, 3, 3, 1][i % 4] as number; // the late traffic shifts towards bird/fish: visible drift
    const disagree = i % 7 === 0;
    const png = i % 4 === 0;
    const image = await scene(160, 120, i, c, png);
    const body = monitorBody({
      image,
      contentType: png ? 'IMAGE/PNG' : 'IMAGE/JPEG',
      width: 160,
      height: 120,
      filename: `cam1_${String(i).padStart(4, '0')}${png ? '.png' : '.jpg'}`,
      champion: classification(c, 0.55 + ((i * 7) % 40) / 100),
      latencyS: (18 + ((i * 13) % 20)) / 1000,
      ...(i % 10 === 9 ? {} : { shadow: classification(disagree ? (c + 1) % 4 : c, 0.5 + ((i * 11) % 45) / 100), shadowLatencyS: (30 + ((i * 17) % 35)) / 1000 }),
      timestamp: now - (total - i) * 10 - ((i * 7) % 5),
      source: 'camera-1',
      customMetadata: { edgewatch: { imageId: `img-${i}`, champion: { name: 'demo-champion', hash: 'c0ffee1234' }, shadow: { name: 'demo-shadow', hash: 'beef5678' }, backend: 'wasm' } },
    });
    const res = await postMonitor(h, body);
    assert.equal(res.status, 201, res.text);
  }
  // Include an HTML-looking filename: it must be shown as text.
  const xss = monitorBody({ image: await makeJpeg(160, 120, 9999), width: 160, height: 120, filename: '<img src=x onerror="window.__pwned=1">.jpg', champion: classification(0, 0.9), latencyS: 0.02, shadow: classification(1, 0.8), shadowLatencyS: 0.03, timestamp: now });
  assert.equal((await postMonitor(h, xss)).status, 201);
  const stats = (await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`, { headers: { authorization: `Bearer ${server.token}` } })).json;

  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  const requested: string[] = [];
  page.on('request', (req) => requested.push(req.url()));

  await page.goto(server.dashboardUrl);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 20_000 });
  assert.equal(new URL(page.url()).hash, '', 'the login key is removed from the address bar');
  assert.equal(await page.isHidden('#signin'), true, 'the sign-in form is hidden once signed in');

  for (const id of ['chart-traffic', 'chart-agreement', 'chart-lat-champion', 'chart-lat-shadow', 'chart-labels']) {
    const size = await page.$eval(`#${id} canvas`, (c) => ({ w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height }));
    assert.ok(size.w > 100 && size.h > 100, `${id} canvas ${size.w}×${size.h}`);
  }
  const classes = stats.classes.length;
  assert.equal(await page.$$eval('#confusion td.cm-cell', (cells) => cells.length), classes * classes);
  const diagonal = await page.$$eval('#confusion td.cm-cell.diag', (cells) => cells.map((c) => c.textContent));
  assert.deepEqual(diagonal, stats.confusion.matrix.map((row: number[], i: number) => (row[i] === 0 ? '·' : String(row[i]))));
  assert.equal(await page.$$eval('#labels tbody tr', (rows) => rows.length), classes);
  assert.equal(await page.$$eval('#gallery .gallery-item', (items) => items.length), 24);
  const disagreements = await page.$$eval('#gallery .gallery-item.disagree', (items) => items.length);
  assert.ok(disagreements > 0);
  const firstIsDisagreement = await page.$eval('#gallery .gallery-item', (el) => el.classList.contains('disagree'));
  assert.equal(firstIsDisagreement, true, 'disagreements come first');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#gallery img')).every((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0), null, { timeout: 10_000 });
  assert.equal(await page.textContent('#kpi-count'), String(total + 1));
  assert.equal(await page.textContent('#model-champion'), 'demo-champion · c0ffee1234');
  assert.equal(await page.textContent('#model-shadow'), 'demo-shadow · beef5678');
  assert.equal(await page.textContent('#model-backend'), 'wasm');
  assert.match((await page.textContent('#kpi-psi')) ?? '', /^\d+\.\d{3}$/);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'filenames are text, not HTML');
  assert.ok(((await page.textContent('#gallery')) ?? '').includes('<img src=x'), 'the HTML-looking filename is shown literally');
  const html = await page.content();
  assert.ok(!html.includes(server.token), 'the token is not in the page');
  assert.ok(requested.every((u) => u.startsWith(server.url)), `only same-origin requests: ${requested.filter((u) => !u.startsWith(server.url)).join(', ')}`);

  // Auto-refresh: a new prediction shows up without reloading.
  const refreshes = Number(await page.getAttribute('body', 'data-refreshes'));
  const extra = await postMonitor(h, monitorBody({ image: await makeJpeg(160, 120, 12345), width: 160, height: 120, champion: classification(1, 0.7), latencyS: 0.02, timestamp: Date.now() / 1000 }));
  assert.equal(extra.status, 201);
  await page.waitForFunction((n) => Number(document.body.dataset.refreshes) > n && document.getElementById('kpi-count')?.textContent === '122', refreshes, { timeout: 15_000 });

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.deepEqual(problems, []);

  // Without a session the page asks for the token, and the token form signs in.
  const fresh = await browser.newContext();
  const anon = await fresh.newPage();
  await anon.goto(server.url);
  await anon.waitForSelector('body[data-state="signin"]');
  await anon.fill('#signin-token', 'wrong-token');
  await anon.click('#signin-form button');
  await anon.waitForFunction(() => document.getElementById('signin-error')?.textContent !== '');
  await anon.fill('#signin-token', server.token);
  await anon.click('#signin-form button');
  await anon.waitForSelector('body[data-state="ready"]', { timeout: 20_000 });
  assert.ok(!(await anon.content()).includes(server.token), 'the token typed in is cleared from the form');
  await fresh.close();
  await context.close();
});
