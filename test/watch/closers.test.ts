/** Closers: one list releases everything once; what is registered after close() is released at once; timers leave the list when they fire. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Closers } from '../../src/watch/closers.js';

test('close() runs every closer once, is idempotent, and a closer that fails does not stop the others', async () => {
  const closers = new Closers();
  const ran: string[] = [];
  closers.add(() => ran.push('a'));
  closers.add(async () => {
    ran.push('b');
    throw new Error('already gone');
  });
  const releaseC = closers.add(() => ran.push('c'));
  await releaseC();
  await releaseC();
  assert.deepEqual(ran, ['c'], 'released early, once');
  assert.equal(closers.size, 2);
  const closing = closers.close();
  assert.equal(closers.close(), closing);
  await closing;
  assert.deepEqual(ran.sort(), ['a', 'b', 'c']);
  assert.equal(closers.size, 0);
});

test('a closer registered after close() runs at once (a revival finishing after close needs no special case)', async () => {
  const closers = new Closers();
  await closers.close();
  let closed = false;
  const release = closers.add(() => {
    closed = true;
  });
  assert.equal(closed, true);
  assert.equal(closers.size, 0);
  await release();
  let fired = false;
  closers.timeout(() => {
    fired = true;
  }, 1);
  closers.immediate(() => {
    fired = true;
  });
  closers.interval(() => {
    fired = true;
  }, 1);
  // Timers of the same duration fire in the order they were set, immediates too: these run after ours would have.
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setTimeout(resolve, 1));
  assert.equal(fired, false, 'timers registered after close never fire');
});

test('timeouts and immediates leave the list when they fire; an interval stays until released', async () => {
  const closers = new Closers();
  await new Promise<void>((resolve) => closers.timeout(resolve, 1));
  await new Promise<void>((resolve) => closers.immediate(resolve));
  assert.equal(closers.size, 0);
  let ticks = 0;
  await new Promise<void>((resolve) =>
    closers.interval(() => {
      ticks += 1;
      if (ticks === 2) resolve();
    }, 1),
  );
  assert.equal(closers.size, 1);
  await closers.close();
  assert.equal(closers.size, 0);
});
