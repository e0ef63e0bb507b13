/**
 * Fault test "poison": the service rejects one prediction with 422. It goes to the dead letters (shown
 * by `edgewatch outbox list` with its status and message), the images captured after it are still
 * delivered, and `outbox retry` replays it once the service accepts it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { startFlakyProxy, type ProxyAction } from '../helpers/flaky-proxy.js';
import { agentArgs, distinctJpegs, dropFolders, dropImage, startAgent, startService, waitUntil } from '../helpers/service.js';

const IMAGES = 20;
const POISON = 'img-005.jpg';

test('poison: a prediction rejected with 422 is dead-lettered with its reason and does not block the images after it', { timeout: 90_000 }, async (t) => {
  const { dir, inbox, staging } = await dropFolders(t);
  const stateDir = join(dir, 'state');
  const service = await startService(t);
  const images = await distinctJpegs(IMAGES);
  const reject = (r: { kind: string; body: Buffer }): ProxyAction =>
    r.kind === 'prediction' && (JSON.parse(r.body.toString('utf8')) as { filename?: string }).filename === POISON
      ? { status: 422, body: { message: 'height: must be the height of the image' } }
      : 'forward';
  const proxy = await startFlakyProxy(service.url, { decide: reject });
  t.after(() => proxy.close());
  const env = { PICSELLIA_API_TOKEN: service.token };
  const { agent } = await startAgent(t, agentArgs({ host: proxy.url, inbox, stateDir }, ['--send-concurrency', '1', '--log-level', 'silent']), env);

  // Capture times in file order, the poison sixth: with one send at a time, 14 images queue behind it.
  const baseS = Math.floor(Date.now() / 1000) - 600;
  for (let i = 0; i < IMAGES; i += 1) {
    const name = `img-${String(i).padStart(3, '0')}.jpg`;
    await dropImage({ inbox, staging }, name, images[i] as Buffer, baseS + i);
  }
  await waitUntil(() => agent.summary().dead === 1 && service.count() === IMAGES - 1 && agent.summary().pending === 0, 60_000, 'the poison dead-lettered and the rest delivered', () =>
    `${service.count()} stored, ${JSON.stringify(agent.summary())}`,
  );
  const stored = service.predictions().map((r) => r.filename);
  assert.ok(!stored.includes(POISON));
  for (let i = 6; i < IMAGES; i += 1) assert.ok(stored.includes(`img-${String(i).padStart(3, '0')}.jpg`), `image ${i}, captured after the poison, is delivered`);
  assert.equal(proxy.stats.predictionStatuses[422], 1, 'a rejection is not retried');
  await agent.close();

  const list = await runCli(['outbox', 'list', '--state-dir', stateDir]);
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, new RegExp(`queued 0, delivered ${IMAGES - 1}, dead 1`));
  assert.match(list.out, new RegExp(`422 EW_MONITOR_REJECTED .*${POISON}.*height: must be the height of the image`));
  const json = await runCli(['outbox', 'list', '--json', '--state-dir', stateDir]);
  const [dead] = json.out.trim().split('\n').map((l) => JSON.parse(l) as { status: number; code: string; message: string; path: string; attempts: number });
  assert.equal(dead?.status, 422);
  assert.equal(dead?.code, 'EW_MONITOR_REJECTED');
  assert.equal(dead?.attempts, 1);
  assert.equal(dead?.path, join(inbox, POISON));

  // Once the service accepts it, `outbox retry` and a run deliver it.
  proxy.setDecide(() => 'forward');
  assert.match((await runCli(['outbox', 'retry', '--state-dir', stateDir])).out, /1 dead letter\(s\) moved back/);
  const rerun = await runCli(agentArgs({ host: proxy.url, inbox, stateDir }, ['--once', '--log-level', 'silent']), env);
  assert.equal(rerun.code, 0, rerun.err);
  assert.match(rerun.out, /1 monitored, 0 already monitored/);
  assert.equal(service.count(), IMAGES);
  t.diagnostic(`poison: ${IMAGES} images, 1 rejected with 422 and dead-lettered after 1 attempt, ${IMAGES - 1} delivered past it; replayed with outbox retry: ${service.count()} stored, 0 duplicates, 0 lost`);
});
