/** The sender: the retry / dead-letter policy and readiness, over a real outbox. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStateDb } from '../../src/state/state-db.js';
import { silentLogger } from '../../src/log.js';
import { Outbox } from '../../src/state/outbox.js';
import type { SendOutcome } from '../../src/monitor/index.js';
import { Sender } from '../../src/send/sender.js';
import { tempDir } from '../helpers/images.js';

test('sender: delivers, retries retryable outcomes with backoff, dead-letters rejections, and does not block the queue', async (t) => {
  const dir = await tempDir(t, 'ew-sender-');
  const db = openStateDb(dir);
  t.after(() => db.close());
  const outbox = new Outbox(db, { maxEntries: 100, maxBytes: 1e6 });
  for (const id of ['ok', 'flaky', 'poison', 'dup']) outbox.enqueue({ imageId: id, fileId: 1, body: Buffer.from(id), capturedAt: 1 });
  const attempts = new Map<string, number>();
  const sender = new Sender({
    outbox,
    concurrency: 2,
    backoffMs: () => 1,
    logger: silentLogger(),
    send: async (entry): Promise<SendOutcome> => {
      const n = (attempts.get(entry.imageId) ?? 0) + 1;
      attempts.set(entry.imageId, n);
      if (entry.imageId === 'poison') return { kind: 'rejected', status: 422, message: 'bad', code: 'EW_MONITOR_REJECTED' };
      if (entry.imageId === 'dup') return { kind: 'duplicate', status: 409, message: 'already' };
      if (entry.imageId === 'flaky' && n < 3) return { kind: 'retry', status: 503, message: 'busy', retryAfterMs: null, code: 'EW_MONITOR_HTTP' };
      return { kind: 'delivered', status: 201, id: `id-${entry.imageId}` };
    },
  });
  sender.start();
  await sender.idle();
  await sender.close();
  assert.equal(attempts.get('flaky'), 3);
  assert.equal(attempts.get('poison'), 1);
  assert.deepEqual(sender.stats, { delivered: 2, alreadyMonitored: 1, retries: 2, dead: 1, inFlight: 0 });
  assert.deepEqual(outbox.counts(), { queued: 0, delivered: 3, dead: 1, lateShadows: { queued: 0, delivered: 0, dead: 0 } });
});

test('sender: waits while not ready, then drains when woken', async (t) => {
  const dir = await tempDir(t, 'ew-sender-');
  const db = openStateDb(dir);
  t.after(() => db.close());
  const outbox = new Outbox(db, { maxEntries: 100, maxBytes: 1e6 });
  outbox.enqueue({ imageId: 'x', fileId: 1, body: Buffer.from('x'), capturedAt: 1 });
  let ready = false;
  let sent = 0;
  const sender = new Sender({
    outbox,
    concurrency: 1,
    backoffMs: () => 1,
    logger: silentLogger(),
    isReady: () => ready,
    send: async () => {
      sent += 1;
      return { kind: 'delivered', status: 201, id: null };
    },
  });
  sender.start();
  await new Promise((r) => setImmediate(r));
  assert.equal(sent, 0);
  ready = true;
  sender.wake();
  await sender.idle();
  await sender.close();
  assert.equal(sent, 1);
});
