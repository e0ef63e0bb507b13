/** `npm start` with `--metrics-port 0`: the agent's and the service's metrics ports both answer, and their counts agree on what the feeder dropped. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDemo } from '../../src/demo/start-demo.js';
import { tempFolder, waitUntil } from '../helpers/service.js';
import { health, scrape, type Scrape } from './scrape.js';

test('demo --metrics-port 0: agent and service metrics ports on 127.0.0.1, both ready, the same 5 predictions counted on each side', { timeout: 90_000 }, async (t) => {
  const dir = await tempFolder(t);
  const demo = await startDemo({ dataDir: dir, port: 0, intervalMs: 50, limit: 5, metricsPort: 0 });
  t.after(() => demo.close());
  const urls = demo.metricsUrls;
  assert.ok(urls, 'both metrics ports are up');
  assert.match(urls.agent, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(urls.service, /^http:\/\/127\.0\.0\.1:\d+$/);
  let agent: Scrape | undefined;
  await waitUntil(async () => (agent = await scrape(`${urls.agent}/metrics`)).sum('edgewatch_images_monitored_total', { result: 'stored' }) === 5, 60_000, '5 monitored', () => agent?.text.split('\n').filter((l) => l.startsWith('edgewatch_images')).join('; ') ?? '');
  const service = await scrape(`${urls.service}/metrics`);
  assert.equal(service.sum('edgewatch_server_predictions_received_total', { deployment: 'demo', result: 'stored' }), 5);
  assert.equal(agent?.sum('edgewatch_images_seen_total'), 5);
  assert.ok(!service.has('edgewatch_images_seen_total') && !agent?.has('edgewatch_server_requests_total'), 'one registry per part');
  assert.equal((await health(`${urls.agent}/readyz`)).status, 200);
  assert.equal((await health(`${urls.service}/readyz`)).status, 200);
});
