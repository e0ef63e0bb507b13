/** Ledger, outbox and sender: durable, exactly-once bookkeeping and the retry / dead-letter policy. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStateDb } from '../../src/ledger/database.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { Sender, type SendResult } from '../../src/outbox/sender.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ew-outbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('ledger: a file version is seen once, survives a reopen, and final states are remembered', async (t) => {
  const dir = await tempDir(t);
  let db = openStateDb(dir);
  let ledger = new Ledger(db);
  const rec = ledger.see('/in/a.jpg', 10, 1000, '/in');
  assert.equal(ledger.see('/in/a.jpg', 10, 1000, '/in').id, rec.id);
  assert.equal(ledger.isDone('/in/a.jpg', 10, 1000), false);
  ledger.mark(rec.id, 'queued', { sha256: 'abc', imageId: 'id-1' });
  db.close();
  db = openStateDb(dir);
  ledger = new Ledger(db);
  assert.equal(ledger.isDone('/in/a.jpg', 10, 1000), true);
  assert.equal(ledger.isDone('/in/a.jpg', 11, 1001), false, 'a rewritten file is a new version');
  const twin = ledger.see('/in/b.jpg', 10, 2000, '/in');
  assert.equal(ledger.sameBytes('abc', twin.id)?.path, '/in/a.jpg');
  db.close();
});

test('outbox: enqueue is idempotent per image id, caps are enforced, dead letters can be retried and purged', async (t) => {
  const dir = await tempDir(t);
  const db = openStateDb(dir);
  t.after(() => db.close());
  const outbox = new Outbox(db, { maxEntries: 2, maxBytes: 1000 });
  assert.equal(outbox.enqueue({ imageId: 'a', fileId: 1, body: Buffer.from('{"a":1}'), capturedAt: 2 }), true);
  assert.equal(outbox.enqueue({ imageId: 'a', fileId: 1, body: Buffer.from('{"a":1}'), capturedAt: 2 }), false);
  assert.equal(outbox.isFull(), false);
  outbox.enqueue({ imageId: 'b', fileId: 2, body: Buffer.from('{"b":1}'), capturedAt: 1 });
  assert.equal(outbox.isFull(), true);
  assert.deepEqual(
    outbox.due(10, new Set()).map((e) => e.imageId),
    ['b', 'a'],
    'oldest capture first',
  );
  outbox.markDead('b', 422, 'EW_MONITOR_REJECTED', 'height: expected int');
  assert.equal(outbox.isFull(), false);
  assert.deepEqual(outbox.counts(), { queued: 1, delivered: 0, dead: 1 });
  assert.equal(outbox.listDead()[0]?.message, 'height: expected int');
  assert.equal(outbox.enqueue({ imageId: 'b', fileId: 2, body: Buffer.from('x'), capturedAt: 1 }), false, 'a dead id is not queued again silently');
  assert.equal(outbox.retryDead(['b']), 1);
  assert.deepEqual(outbox.counts(), { queued: 2, delivered: 0, dead: 0 });
  outbox.markDead('b', 422, 'EW_MONITOR_REJECTED', 'again');
  assert.equal(outbox.purgeDead(), 1);
  outbox.markDelivered('a', 201, 'uuid-1');
  assert.deepEqual(outbox.counts(), { queued: 0, delivered: 1, dead: 0 });
});

test('sender: delivers, retries retryable outcomes with backoff, dead-letters rejections, and does not block the queue', async (t) => {
  const dir = await tempDir(t);
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
    send: async (entry): Promise<SendResult> => {
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
  assert.deepEqual(sender.stats, { delivered: 2, duplicates: 1, retries: 2, dead: 1, inFlight: 0 });
  assert.deepEqual(outbox.counts(), { queued: 0, delivered: 3, dead: 1 });
});

test('sender: waits while not ready, then drains when woken', async (t) => {
  const dir = await tempDir(t);
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
