/** Ledger and outbox: durable, exactly-once bookkeeping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStateDb } from '../../src/state/state-db.js';
import { Ledger } from '../../src/state/ledger.js';
import { Outbox } from '../../src/state/outbox.js';
import { tempDir } from '../helpers/images.js';

test('ledger: a file version is seen once, survives a reopen, and final states are remembered', async (t) => {
  const dir = await tempDir(t, 'ew-outbox-');
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
  const dir = await tempDir(t, 'ew-outbox-');
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
  assert.deepEqual(outbox.counts(), { queued: 1, delivered: 0, dead: 1, lateShadows: { queued: 0, delivered: 0, dead: 0 } });
  assert.equal(outbox.listDead()[0]?.message, 'height: expected int');
  assert.equal(outbox.enqueue({ imageId: 'b', fileId: 2, body: Buffer.from('x'), capturedAt: 1 }), false, 'a dead id is not queued again silently');
  assert.equal(outbox.retryDead(['b']), 1);
  assert.deepEqual(outbox.counts(), { queued: 2, delivered: 0, dead: 0, lateShadows: { queued: 0, delivered: 0, dead: 0 } });
  outbox.markDead('b', 422, 'EW_MONITOR_REJECTED', 'again');
  assert.equal(outbox.purgeDead(), 1);
  outbox.markDelivered('a', 201, 'uuid-1');
  assert.deepEqual(outbox.counts(), { queued: 0, delivered: 1, dead: 0, lateShadows: { queued: 0, delivered: 0, dead: 0 } });
});
