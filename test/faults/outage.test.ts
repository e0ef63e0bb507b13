/**
 * Fault test "outage": the monitoring service goes down while 100 images arrive (in an order different
 * from their capture order); the agent predicts and queues them; the service comes back on the same
 * port; all 100 arrive once, in capture-time order, with their original prediction timestamps.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentArgs, distinctJpegs, dropFolders, dropImage, seededRandom, startAgent, startService, stateDbQuery, waitUntil } from '../helpers/service.js';

const IMAGES = 100;

test(`outage: ${IMAGES} images queued while the service is down all arrive once it is back, in capture order, with their original timestamps`, { timeout: 90_000 }, async (t) => {
  const random = seededRandom(7);
  const { dir, inbox, staging } = await dropFolders(t);
  const service = await startService(t);
  const images = await distinctJpegs(IMAGES);
  const { agent, logs } = await startAgent(
    t,
    agentArgs({ host: service.url, inbox, stateDir: join(dir, 'state') }, ['--send-concurrency', '1', '--concurrency', '2', '--log-level', 'warn']),
    { PICSELLIA_API_TOKEN: service.token },
  );
  assert.ok(agent.target, 'the deployment is resolved while the service is up');

  await service.stop();
  const outageStartedS = Date.now() / 1000;
  // Capture times: one second apart, an hour ago; files arrive in a shuffled order.
  const baseS = Math.floor(outageStartedS) - 3_600;
  const order = [...Array(IMAGES).keys()].sort(() => random() - 0.5);
  for (const i of order) {
    const name = `shot-${String(i).padStart(3, '0')}.jpg`;
    await dropImage({ inbox, staging }, name, images[i] as Buffer, baseS + i);
  }
  const outbox = () => agent.outbox?.size.entries ?? 0;
  // A burst of 100: the shadow falls behind, so some images' shadow predictions wait as late shadows beside them.
  const expected = () => IMAGES + agent.summary().shadowDeferred;
  await waitUntil(() => outbox() === expected(), 60_000, `${IMAGES} queued predictions and their late shadows`, () => `${outbox()} queued of ${expected()}`);
  const failedSends = logs.filter((l) => String(l.msg).startsWith('send failed')).length;
  assert.ok(failedSends > 0, 'the agent tried to send during the outage');
  assert.equal(service.count(), 0);

  // What the agent predicted, and when, before the outage ended.
  const queued = stateDbQuery(join(dir, 'state'), (db) => db.prepare('SELECT image_id, body FROM outbox').all() as { image_id: string; body: Buffer }[]);
  const timestampOf = new Map(queued.map((q) => [q.image_id, (JSON.parse(q.body.toString('utf8')) as { timestamp: number }).timestamp]));
  const outageEndedS = Date.now() / 1000;
  await service.restart();
  await waitUntil(() => service.count() === IMAGES && outbox() === 0, 60_000, `${IMAGES} stored predictions`, () => `${service.count()} stored, ${outbox()} queued`);
  const drainMs = Math.round((Date.now() / 1000 - outageEndedS) * 1000);

  const rows = service.predictions();
  assert.equal(rows.length, IMAGES);
  assert.equal(new Set(rows.map((r) => r.imageId)).size, IMAGES, 'none twice');
  const captured = rows.map((r) => r.capturedAt);
  assert.deepEqual(captured, [...Array(IMAGES).keys()].map((i) => baseS + i), 'arrived in capture order, capturedAt = the file mtime');
  assert.deepEqual(rows.map((r) => r.filename), [...Array(IMAGES).keys()].map((i) => `shot-${String(i).padStart(3, '0')}.jpg`));
  for (const r of rows) {
    assert.equal(r.timestampS, timestampOf.get(r.imageId as string), 'the prediction keeps the timestamp of when it was made');
    assert.ok(r.timestampS > outageStartedS && r.timestampS < outageEndedS, 'predicted during the outage');
    assert.ok(r.receivedS >= outageEndedS);
  }
  const summary = agent.summary();
  t.diagnostic(
    `outage: ${IMAGES} images during the outage, ${failedSends} failed sends logged while down, ${rows.length} stored, 0 duplicates, 0 lost, ${summary.alreadyMonitored} answered 409; in capture order; drained ${drainMs} ms after the service came back`,
  );
});
