/**
 * Fault test "flaky service": a proxy in front of the embedded service answers about 30% of all
 * requests (platform, login, predictions) with 503, or drops the connection before or after the
 * service handled it (seeded). 100 images: each is stored exactly once.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startFlakyProxy, type ProxyAction } from '../helpers/flaky-proxy.js';
import { agentArgs, distinctJpegs, seededRandom, startAgent, startService, tempFolder, waitUntil } from '../helpers/service.js';

const IMAGES = 100;
const SEED = 30;

test(`flaky service: 30% of requests answer 503 or drop the connection; all ${IMAGES} images arrive exactly once`, { timeout: 90_000 }, async (t) => {
  const random = seededRandom(SEED);
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const service = await startService(t);
  const images = await distinctJpegs(IMAGES);
  const proxy = await startFlakyProxy(service.url, {
    decide: (): ProxyAction => {
      const roll = random();
      if (roll < 0.1) return { status: 503, body: { message: 'injected: service unavailable' } };
      if (roll < 0.2) return 'drop';
      if (roll < 0.3) return 'drop-after';
      return 'forward';
    },
  });
  t.after(() => proxy.close());

  const { agent } = await startAgent(t, agentArgs({ host: proxy.url, inbox, stateDir: join(dir, 'state') }, ['--log-level', 'error']), {
    PICSELLIA_API_TOKEN: service.token,
  });
  const started = Date.now();
  for (let i = 0; i < IMAGES; i += 1) await writeFile(join(inbox, `flaky-${String(i).padStart(3, '0')}.jpg`), images[i] as Buffer);
  const queued = () => agent.outbox?.size.entries ?? -1;
  await waitUntil(() => service.count() >= IMAGES && queued() === 0 && agent.summary().monitored + agent.summary().alreadyMonitored === IMAGES, 60_000, `${IMAGES} stored and delivered`, () =>
    `${service.count()} stored, ${queued()} queued, ${JSON.stringify(agent.summary())}`,
  );
  const drainMs = Date.now() - started;

  const rows = service.predictions();
  assert.equal(rows.length, IMAGES, 'exactly one stored prediction per image');
  assert.equal(new Set(rows.map((r) => r.imageId)).size, IMAGES);
  assert.equal(new Set(rows.map((r) => r.filename)).size, IMAGES);
  const summary = agent.summary();
  assert.equal(summary.failed, 0);
  assert.equal(summary.dead, 0);
  const s = proxy.stats;
  assert.ok(s.injected > 0 && s.dropped > 0 && s.droppedAfter > 0, 'every kind of fault happened');
  const faults = s.injected + s.dropped + s.droppedAfter;
  t.diagnostic(
    `flaky: seed ${SEED}; ${s.requests} requests through the proxy, ${faults} faulted (${s.injected} × 503, ${s.dropped} dropped before, ${s.droppedAfter} dropped after the service handled them); ` +
      `${IMAGES} images, ${rows.length} stored, 0 duplicates, 0 lost; agent: ${summary.monitored} delivered (201), ${summary.alreadyMonitored} already there (409, re-sends after a lost answer); drained in ${drainMs} ms`,
  );
});
