/** The eager path: a complete file is handed out on first sight (unsettled); an incomplete one goes back to the stability checks via recheck(). */
import assert from 'node:assert/strict';
import { appendFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FolderWatcher, type WatchedFile } from '../../src/watch/index.js';
import { jpegBytes, tempDir } from '../helpers/images.js';

function folder(path: string) {
  return { path, source: 'test', tags: [], recursive: false };
}

async function withDeadline<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

test('eager: a file renamed in is handed out unsettled without waiting stableMs', async (t) => {
  const dir = await tempDir(t);
  // stableMs far longer than the test's deadline: only the eager path can hand the file out in time.
  const watcher = new FolderWatcher({ folders: [folder(dir)], extensions: ['.jpg'], stableMs: 600_000, ignorePaths: [], capacity: 4, watch: true, eager: true });
  t.after(() => watcher.close());
  await watcher.start();
  await writeFile(join(dir, '.a.jpg.part'), await jpegBytes());
  await rename(join(dir, '.a.jpg.part'), join(dir, 'a.jpg'));
  const file = await withDeadline(watcher.next(), 'eager hand-out', 10_000);
  assert.equal(file?.path, join(dir, 'a.jpg'));
  assert.equal(file?.settled, false);
});

test('eager: recheck() puts a still-growing file back; it is handed out again, settled, once it stops changing', async (t) => {
  const dir = await tempDir(t);
  const watcher = new FolderWatcher({ folders: [folder(dir)], extensions: ['.jpg'], stableMs: 100, ignorePaths: [], capacity: 4, watch: true, eager: true });
  t.after(() => watcher.close());
  await watcher.start();
  const bytes = await jpegBytes();
  const path = join(dir, 'slow.jpg');
  await writeFile(path, bytes.subarray(0, 100));
  const first = (await withDeadline(watcher.next(), 'first hand-out')) as WatchedFile;
  assert.equal(first.settled, false);
  assert.equal(first.sizeBytes, 100);
  watcher.recheck(first);
  await appendFile(path, bytes.subarray(100));
  const second = (await withDeadline(watcher.next(), 'settled hand-out')) as WatchedFile;
  assert.equal(second.path, path);
  assert.equal(second.settled, true);
  assert.equal(second.sizeBytes, bytes.length);
});

test('eager in once mode: a rechecked file is still handed out before next() ends', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'x.jpg'), await jpegBytes());
  const watcher = new FolderWatcher({ folders: [folder(dir)], extensions: ['.jpg'], stableMs: 50, ignorePaths: [], capacity: 4, watch: false, eager: true });
  t.after(() => watcher.close());
  await watcher.start();
  const first = (await withDeadline(watcher.next(), 'first')) as WatchedFile;
  assert.equal(first.settled, false);
  watcher.recheck(first);
  const second = await withDeadline(watcher.next(), 'second');
  assert.equal(second?.settled, true);
  assert.equal(await withDeadline(watcher.next(), 'end'), null);
});
