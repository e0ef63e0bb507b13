/**
 * `edgewatch run --metrics-port 0` as a real process: its counters move as images are monitored,
 * rejected and dead-lettered, and /readyz answers 503 while the monitoring service is down and the
 * outbox is full, then 200 again once it is back and the outbox drained.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnAgent } from '../helpers/agent-child.js';
import { startFlakyProxy, type ProxyAction } from '../helpers/flaky-proxy.js';
import { agentArgs, distinctJpegs, dropFolders, dropImage, startService, waitUntil } from '../helpers/service.js';
import { health, scrape, type Scrape } from './scrape.js';

const POISON = 'poison.jpg';

test('run --metrics-port: counters move as images are monitored, rejected and dead-lettered; /readyz 503 while the service is down and the outbox full, 200 after', { timeout: 150_000 }, async (t) => {
  const { dir, inbox, staging } = await dropFolders(t);
  const service = await startService(t);
  const reject = (r: { kind: string; body: Buffer }): ProxyAction =>
    r.kind === 'prediction' && (JSON.parse(r.body.toString('utf8')) as { filename?: string }).filename === POISON ? { status: 422, body: { message: 'refused by the test' } } : 'forward';
  const proxy = await startFlakyProxy(service.url, { decide: reject });
  t.after(() => proxy.close());
  const child = spawnAgent(agentArgs({ host: proxy.url, inbox, stateDir: join(dir, 'state') }, ['--metrics-port', '0', '--outbox-max-entries', '3', '--send-concurrency', '1']), {
    PICSELLIA_API_TOKEN: service.token,
  });
  t.after(() => child.kill());
  const listening = await child.waitForLog((l) => typeof l.url === 'string' && String(l.msg).startsWith('metrics on'), 60_000);
  const url = listening.url as string;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the metrics port binds 127.0.0.1 by default');
  assert.equal((await health(`${url}/healthz`)).status, 200);
  await waitUntil(async () => (await health(`${url}/readyz`)).status === 200, 60_000, '/readyz 200 once the models are loaded');
  const metrics = () => scrape(`${url}/metrics`);

  let s = await metrics();
  assert.equal(s.sum('edgewatch_backend_info', { backend: 'wasm' }), 1);
  assert.equal(s.sum('edgewatch_model_info', { role: 'champion' }), 1);
  assert.equal(s.sum('edgewatch_model_info', { role: 'shadow' }), 1);
  assert.ok(s.sum('edgewatch_model_workers', { role: 'all' }) >= 1, 'hosts holding the champion and the shadow');
  assert.equal(s.sum('edgewatch_watched_folders'), 1);
  assert.equal(s.sum('edgewatch_watched_folders_up'), 1);
  assert.equal(s.sum('edgewatch_deployment_resolved'), 1);
  assert.ok(s.sum('edgewatch_model_load_seconds') > 0);
  assert.equal(s.sum('edgewatch_images_seen_total'), 0);

  const images = await distinctJpegs(8);
  const drop = (name: string, bytes: Buffer) => dropImage({ inbox, staging }, name, bytes);
  await drop('a.jpg', images[0] as Buffer);
  await drop('b.jpg', images[1] as Buffer);
  await drop(POISON, images[2] as Buffer);
  await drop('cut.jpg', (images[3] as Buffer).subarray(0, Math.floor((images[3] as Buffer).length / 2)));
  const settled = (x: Scrape) =>
    x.sum('edgewatch_images_monitored_total', { result: 'stored' }) === 2 && x.sum('edgewatch_images_rejected_total') === 1 && x.sum('edgewatch_dead_letters_total') === 1;
  await waitUntil(async () => settled((s = await metrics())), 60_000, '2 monitored, 1 rejected, 1 dead letter', () => s.text.split('\n').filter((l) => l.startsWith('edgewatch_images')).join('; '));
  assert.equal(s.sum('edgewatch_images_seen_total'), 4);
  assert.equal(s.sum('edgewatch_images_rejected_total', { code: 'EW_IMAGE_TRUNCATED' }), 1, 'rejections by code');
  assert.equal(s.sum('edgewatch_images_failed_total', { code: 'EW_MONITOR_REJECTED' }), 1, 'the dead letter by its code');
  assert.equal(s.sum('edgewatch_outbox_dead_letters'), 1);
  assert.equal(s.sum('edgewatch_inference_seconds_count', { role: 'champion', model: 'demo-champion' }), 3, 'three images reached the champion');
  const championVersion = s.series.find((x) => x.name === 'edgewatch_inference_seconds_count' && x.labels.role === 'champion')?.labels.version ?? '';
  assert.match(championVersion, /^[0-9a-f]{12}$/, 'version = the model content hash prefix');
  assert.ok(s.sum('edgewatch_decode_seconds_count') >= 3);
  assert.ok(s.sum('edgewatch_send_seconds_count') >= 3);
  assert.ok(!s.text.includes(service.token), 'never the token');

  // The service goes down: the agent predicts and queues until the outbox is full, then answers 503.
  await service.stop();
  for (let i = 4; i < 8; i += 1) await drop(`late-${i}.jpg`, images[i] as Buffer);
  let ready = await health(`${url}/readyz`);
  await waitUntil(async () => (ready = await health(`${url}/readyz`)).status === 503, 60_000, '/readyz 503 with a full outbox', () => JSON.stringify(ready.body));
  assert.match(String(ready.body.reason), /outbox full/);
  assert.equal(ready.body.ready, false);
  s = await metrics();
  assert.equal(s.sum('edgewatch_outbox_full'), 1);
  assert.ok(s.sum('edgewatch_outbox_entries') >= 3);
  assert.ok(s.sum('edgewatch_outbox_oldest_age_seconds') > 0);
  assert.equal((await health(`${url}/healthz`)).status, 200, 'alive all the same');

  // Back: the outbox drains, the files that waited in the folder follow, /readyz is 200 again.
  await service.restart();
  await waitUntil(
    async () => (await health(`${url}/readyz`)).status === 200 && (s = await metrics()).sum('edgewatch_images_monitored_total', { result: 'stored' }) === 6,
    60_000,
    '/readyz 200 and 6 monitored',
    () => s.text.split('\n').filter((l) => l.startsWith('edgewatch_images_monitored') || l.startsWith('edgewatch_outbox')).join('; '),
  );
  assert.equal(s.sum('edgewatch_outbox_full'), 0);
  assert.equal(service.count(), 6);
  assert.equal(await child.kill('SIGTERM'), 0, 'a SIGTERM stops it cleanly, metrics port included');
});
