/** FolderWatcher: existing and new files, never half-written ones, ignore rules, backpressure without loss, once mode, close. */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { WatchFolder } from '../../src/config/schema.js';
import { isEdgewatchError } from '../../src/errors.js';
import { FolderWatcher, type FolderWatcherOptions, type WatchedFile } from '../../src/watch/index.js';
import { jpegBytes, tempDir } from '../helpers/images.js';
import { drain, nextFile } from '../helpers/watcher.js';

const EXTENSIONS = ['.jpg', '.jpeg', '.png'];

function folder(path: string, recursive = false): WatchFolder {
  return { path, source: 'test', tags: [], recursive };
}

function makeWatcher(t: TestContext, options: Partial<FolderWatcherOptions> & { folders: WatchFolder[] }): FolderWatcher {
  const watcher = new FolderWatcher({ extensions: EXTENSIONS, stableMs: 50, ignorePaths: [], capacity: 8, watch: true, ...options });
  t.after(() => watcher.close());
  return watcher;
}

/** Polls `condition` until it holds; fails after `timeoutMs` (a deadline, not a synchronisation sleep). */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const idle = (w: FolderWatcher) => () => {
  const c = w.counts;
  return c.pending === 0 && c.queued === 0 && !c.scanning;
};

test('existing files are picked up (sub-folders only when recursive); watch: false ends with null after the scan', async (t) => {
  const dir = await tempDir(t);
  const jpeg = await jpegBytes();
  await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(dir, 'a.jpg'), jpeg);
  await writeFile(join(dir, 'B.PNG'), jpeg);
  await writeFile(join(dir, 'sub', 'c.jpeg'), jpeg);
  await writeFile(join(dir, 'sub', 'deeper', 'd.jpg'), jpeg);

  const flat = makeWatcher(t, { folders: [folder(dir)], watch: false });
  await flat.start();
  assert.deepEqual(await drain(flat), [join(dir, 'B.PNG'), join(dir, 'a.jpg')]);
  await flat.scanComplete;
  assert.equal(await flat.next(), null, 'stays null');

  const deep = makeWatcher(t, { folders: [folder(dir, true)], watch: false });
  await deep.start();
  const files: WatchedFile[] = [];
  for (let f = await nextFile(deep); f; f = await nextFile(deep)) files.push(f);
  assert.deepEqual(files.map((f) => f.path).sort(), [join(dir, 'B.PNG'), join(dir, 'a.jpg'), join(dir, 'sub', 'c.jpeg'), join(dir, 'sub', 'deeper', 'd.jpg')]);
  for (const f of files) {
    assert.equal(f.sizeBytes, jpeg.length);
    assert.ok(f.mtimeMs > 0);
    assert.equal(f.folder.path, dir);
  }
});

test('new files are picked up while watching, from several folders', async (t) => {
  const one = await tempDir(t);
  const two = await tempDir(t);
  const watcher = makeWatcher(t, { folders: [folder(one), folder(two)] });
  await watcher.start();
  await watcher.scanComplete;
  const jpeg = await jpegBytes();
  await writeFile(join(one, 'new1.jpg'), jpeg);
  await writeFile(join(two, 'new2.jpg'), jpeg);
  const got = [await nextFile(watcher), await nextFile(watcher)];
  assert.deepEqual(got.map((f) => f?.path).sort(), [join(one, 'new1.jpg'), join(two, 'new2.jpg')].sort());
  assert.equal(got.find((f) => f?.path.startsWith(two))?.folder.path, two);
});

test('a slow writer: the file is yielded only after its last chunk, with its final size', async (t) => {
  const dir = await tempDir(t);
  const watcher = makeWatcher(t, { folders: [folder(dir)], stableMs: 1500 });
  const observed: number[] = [];
  const queuedSizes: number[] = [];
  watcher.on('observed', (o) => observed.push(o.sizeBytes));
  watcher.on('queued', (f) => queuedSizes.push(f.sizeBytes));
  await watcher.start();
  const jpeg = await jpegBytes({ width: 320, height: 240 });
  const chunks = 6;
  const step = Math.ceil(jpeg.length / chunks);
  const handle = await open(join(dir, 'slow.jpg'), 'w');
  try {
    for (let written = 0; written < jpeg.length; ) {
      const end = Math.min(jpeg.length, written + step);
      await handle.write(jpeg.subarray(written, end));
      await handle.datasync();
      written = end;
      // Synchronise on the watcher having seen this chunk before writing the next one.
      await waitUntil(() => observed.includes(written), `the watcher to observe ${written} bytes`);
      assert.deepEqual(queuedSizes, [], 'nothing yielded while the writer is still writing');
    }
  } finally {
    await handle.close();
  }
  const file = await nextFile(watcher);
  assert.equal(file?.path, join(dir, 'slow.jpg'));
  assert.equal(file?.sizeBytes, jpeg.length);
  assert.deepEqual(queuedSizes, [jpeg.length]);
});

test('a file created empty and written only after stableMs is handed out with its content, not as an empty file', async (t) => {
  const dir = await tempDir(t);
  const watcher = makeWatcher(t, { folders: [folder(dir)], stableMs: 20 });
  const observed: number[] = [];
  const queuedSizes: number[] = [];
  watcher.on('observed', (o) => observed.push(o.sizeBytes));
  watcher.on('queued', (f) => queuedSizes.push(f.sizeBytes));
  await watcher.start();
  const jpeg = await jpegBytes();
  const handle = await open(join(dir, 'late.jpg'), 'w');
  try {
    await waitUntil(() => observed.includes(0), 'the watcher to observe the empty file');
    // A loaded writer: its first write comes well after stableMs (20 ms) of the file being empty.
    const stillEmptyAfter = Date.now() + 200;
    await waitUntil(() => Date.now() >= stillEmptyAfter && watcher.counts.checks > 3, 'several stability checks of the empty file');
    assert.deepEqual(queuedSizes, [], 'an empty file is not taken as finished after stableMs');
    await handle.write(jpeg);
  } finally {
    await handle.close();
  }
  const file = await nextFile(watcher);
  assert.equal(file?.path, join(dir, 'late.jpg'));
  assert.equal(file?.sizeBytes, jpeg.length);
});

test('a file renamed into the folder is picked up; its .part twin and other temporary names are not', async (t) => {
  const dir = await tempDir(t);
  const outside = await tempDir(t);
  const watcher = makeWatcher(t, { folders: [folder(dir)] });
  const skipped: string[] = [];
  watcher.on('skipped', (s) => skipped.push(`${s.reason}:${s.path}`));
  await watcher.start();
  const jpeg = await jpegBytes();
  await writeFile(join(outside, 'moved.jpg'), jpeg);
  await rename(join(outside, 'moved.jpg'), join(dir, 'moved.jpg'));
  assert.equal((await nextFile(watcher))?.path, join(dir, 'moved.jpg'));

  // A copy tool writing `x.jpg.part` then renaming it.
  await writeFile(join(dir, 'copied.jpg.part'), jpeg.subarray(0, 100));
  await waitUntil(() => skipped.includes(`temporary:${join(dir, 'copied.jpg.part')}`), 'the .part file to be skipped');
  await writeFile(join(dir, 'copied.jpg.part'), jpeg);
  await rename(join(dir, 'copied.jpg.part'), join(dir, 'copied.jpg'));
  const copied = await nextFile(watcher);
  assert.equal(copied?.path, join(dir, 'copied.jpg'));
  assert.equal(copied?.sizeBytes, jpeg.length);
});

const IGNORED_NAMES = ['.hidden.jpg', '~lock.jpg', 'edit.jpg~', 'a.tmp', 'b.jpg.part', 'c.jpg.crdownload', 'd.jpg.partial', '.e.jpg.swp', 'notes.txt', 'model.json', 'noext'];

test('hidden, temporary and non-image files are ignored (at start and while watching); extensions are case-insensitive', async (t) => {
  const dir = await tempDir(t);
  const jpeg = await jpegBytes();
  await mkdir(join(dir, '.thumbnails'));
  await writeFile(join(dir, '.thumbnails', 'thumb.jpg'), jpeg);
  for (const name of IGNORED_NAMES) await writeFile(join(dir, name), jpeg);
  await writeFile(join(dir, 'GOOD.JPG'), jpeg);

  const once = makeWatcher(t, { folders: [folder(dir, true)], watch: false });
  await once.start();
  const found = await drain(once);
  assert.ok(found.includes(join(dir, 'GOOD.JPG')));
  for (const path of found) assert.ok(!IGNORED_NAMES.some((n) => path.endsWith(`/${n}`)) && !path.includes('.thumbnails'), `${path} should be ignored`);

  const live = await tempDir(t);
  const watcher = makeWatcher(t, { folders: [folder(live, true)] });
  const skipped = new Set<string>();
  watcher.on('skipped', (s) => skipped.add(s.path));
  await watcher.start();
  for (const name of IGNORED_NAMES) await writeFile(join(live, name), jpeg);
  await writeFile(join(live, 'last.jpeg'), jpeg);
  assert.equal((await nextFile(watcher))?.path, join(live, 'last.jpeg'));
  // chokidar itself swallows editor backups (`x~`, `.x.swp`): those produce no event at all.
  const reported = IGNORED_NAMES.filter((n) => !n.endsWith('~') && !n.endsWith('.swp'));
  await waitUntil(() => reported.every((n) => skipped.has(join(live, n))), 'a skipped event for every ignored name');
  assert.deepEqual(watcher.counts.queued, 0);
});

test('nothing under ignorePaths is yielded, at start or while watching', async (t) => {
  const dir = await tempDir(t);
  const jpeg = await jpegBytes();
  const rejected = join(dir, 'rejected');
  const processed = join(dir, 'processed');
  await mkdir(rejected);
  await mkdir(processed);
  await writeFile(join(rejected, 'bad.jpg'), jpeg);
  await writeFile(join(processed, 'done.jpg'), jpeg);
  await writeFile(join(dir, 'keep.jpg'), jpeg);
  const watcher = makeWatcher(t, { folders: [folder(dir, true)], ignorePaths: [rejected, processed] });
  await watcher.start();
  assert.equal((await nextFile(watcher))?.path, join(dir, 'keep.jpg'));
  await writeFile(join(rejected, 'bad2.jpg'), jpeg);
  await writeFile(join(processed, 'done2.jpg'), jpeg);
  await writeFile(join(dir, 'keep2.jpg'), jpeg);
  assert.equal((await nextFile(watcher))?.path, join(dir, 'keep2.jpg'));
  await waitUntil(idle(watcher), 'the watcher to be idle');
  assert.equal(watcher.counts.queued, 0);
});

test('backpressure: 300 files (150 before start, 150 while saturated), capacity 8, slow consumer: each yielded exactly once', async (t) => {
  const dir = await tempDir(t);
  const capacity = 8;
  const bytes = Buffer.from('not decoded by the watcher');
  const names = Array.from({ length: 300 }, (_, i) => `img-${String(i).padStart(3, '0')}.jpg`);
  for (const name of names.slice(0, 150)) await writeFile(join(dir, name), bytes);
  const watcher = makeWatcher(t, { folders: [folder(dir)], capacity, stableMs: 20 });
  let maxQueued = 0;
  watcher.on('queued', () => {
    maxQueued = Math.max(maxQueued, watcher.counts.queued);
  });
  await watcher.start();
  // Nobody consumes yet: the queue fills to capacity, the pending set to its bound, the scan pauses.
  await waitUntil(() => watcher.counts.queued === capacity && watcher.counts.pending >= 32, 'the watcher to saturate');
  const before = watcher.counts;
  assert.ok(before.scanning, 'the initial scan is paused, not finished');
  for (const name of names.slice(150)) await writeFile(join(dir, name), bytes);
  await waitUntil(() => watcher.counts.deferredEvents >= 150, 'the 150 new files to be deferred (pending set full)');
  assert.equal(watcher.counts.queued, capacity);

  const seen = new Map<string, number>();
  while (seen.size < names.length) {
    const file = await nextFile(watcher);
    assert.ok(file);
    seen.set(file.path, (seen.get(file.path) ?? 0) + 1);
    assert.ok(watcher.counts.queued <= capacity);
    await new Promise((r) => setTimeout(r, 1)); // a consumer slower than the producer
  }
  await waitUntil(idle(watcher), 'the watcher to be idle');
  assert.equal(watcher.counts.queued, 0, 'nothing left to yield');
  assert.deepEqual([...seen.keys()].sort(), names.map((n) => join(dir, n)));
  assert.ok([...seen.values()].every((n) => n === 1), 'each file once');
  assert.ok(maxQueued <= capacity, `queue held ${maxQueued}`);
  t.diagnostic(`counts at the end: ${JSON.stringify(watcher.counts)}`);
  assert.ok(watcher.counts.scans >= 2, 'the folder was re-scanned for the deferred files');
});

test('isDone skips files the ledger already handled; a file changed after being yielded is yielded again', async (t) => {
  const dir = await tempDir(t);
  const jpeg = await jpegBytes();
  await writeFile(join(dir, 'handled.jpg'), jpeg);
  await writeFile(join(dir, 'fresh.jpg'), jpeg);
  const skipped: string[] = [];
  const watcher = makeWatcher(t, { folders: [folder(dir)], isDone: (f) => f.path.endsWith('handled.jpg') });
  watcher.on('skipped', (s) => skipped.push(`${s.reason}:${s.path}`));
  await watcher.start();
  const first = await nextFile(watcher);
  assert.equal(first?.path, join(dir, 'fresh.jpg'));
  await watcher.scanComplete;
  assert.ok(skipped.includes(`done:${join(dir, 'handled.jpg')}`));

  await writeFile(join(dir, 'fresh.jpg'), Buffer.concat([jpeg, Buffer.from('more')]));
  const again = await nextFile(watcher);
  assert.equal(again?.path, join(dir, 'fresh.jpg'));
  assert.equal(again?.sizeBytes, jpeg.length + 4);
});

test('close is idempotent, releases a waiting next() with null, and next() stays null', async (t) => {
  const dir = await tempDir(t);
  const watcher = makeWatcher(t, { folders: [folder(dir)] });
  await watcher.start();
  const waiting = watcher.next();
  const closing = watcher.close();
  assert.equal(watcher.close(), closing);
  await closing;
  assert.equal(await waiting, null);
  assert.equal(await watcher.next(), null);
  await watcher.scanComplete;
  await writeFile(join(dir, 'late.jpg'), await jpegBytes());
  assert.equal(await watcher.next(), null);
});

test('close while start() is still setting up releases everything (the test process would hang otherwise)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'a.jpg'), await jpegBytes());
  const watcher = makeWatcher(t, { folders: [folder(dir, true)] });
  const starting = watcher.start();
  await watcher.close();
  await starting;
  assert.equal(await watcher.next(), null);
});

test('a file deleted while waiting in the queue is not handed out', async (t) => {
  const dir = await tempDir(t);
  const jpeg = await jpegBytes();
  const watcher = makeWatcher(t, { folders: [folder(dir)] });
  const queued: string[] = [];
  watcher.on('queued', (f) => queued.push(f.path));
  await watcher.start();
  await writeFile(join(dir, 'a.jpg'), jpeg);
  await waitUntil(() => queued.length === 1, 'a.jpg to be queued');
  await rm(join(dir, 'a.jpg'));
  await waitUntil(() => watcher.counts.queued === 0, 'a.jpg to leave the queue');
  await writeFile(join(dir, 'b.jpg'), jpeg);
  assert.equal((await nextFile(watcher))?.path, join(dir, 'b.jpg'));
});

for (const recursive of [false, true]) {
  test(`a ${recursive ? 'recursive' : 'flat'} folder removed and created again is watched again: files written meanwhile and after are handed out`, async (t) => {
    const parent = await tempDir(t);
    const inbox = join(parent, 'inbox');
    await mkdir(inbox);
    const watcher = makeWatcher(t, { folders: [folder(inbox, recursive)], rootCheckMs: 20 });
    const events: string[] = [];
    watcher.on('folderError', (e) => events.push(`error:${e.code}`));
    watcher.on('folderRestored', (r) => events.push(`restored:${r.path}`));
    await watcher.start();
    await watcher.scanComplete;
    await rm(inbox, { recursive: true });
    await waitUntil(() => events.length === 1, 'the folderError event');
    // Recreated with a file already in it (written while nobody watched), then a new one.
    await mkdir(join(parent, 'staging'));
    await writeFile(join(parent, 'staging', 'early.jpg'), await jpegBytes());
    await rename(join(parent, 'staging'), inbox);
    await waitUntil(() => events.length === 2, 'the folderRestored event');
    assert.deepEqual(events, ['error:EW_WATCH_FOLDER', `restored:${inbox}`]);
    assert.equal((await nextFile(watcher))?.path, join(inbox, 'early.jpg'));
    await writeFile(join(inbox, 'late.jpg'), await jpegBytes());
    assert.equal((await nextFile(watcher))?.path, join(inbox, 'late.jpg'));
  });
}

test('scanEveryMs (network shares): no file-system events, new and rewritten files are found by the periodic scan, each once', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'before.jpg'), await jpegBytes());
  const watcher = makeWatcher(t, { folders: [folder(dir)], scanEveryMs: 30 });
  await watcher.start();
  assert.equal((await nextFile(watcher))?.path, join(dir, 'before.jpg'));
  const scansBefore = watcher.counts.scans;
  await writeFile(join(dir, 'new.jpg'), await jpegBytes());
  const found = await nextFile(watcher);
  assert.equal(found?.path, join(dir, 'new.jpg'));
  assert.ok(watcher.counts.scans > scansBefore, 'found by a later scan (no event source in this mode)');
  await waitUntil(() => watcher.counts.scans > scansBefore + 3, 'a few more scans');
  assert.equal(watcher.counts.queued + watcher.counts.pending, 0, 'files already handed out are not handed out again');
  await writeFile(join(dir, 'new.jpg'), await jpegBytes({ width: 48, height: 48 }));
  const rewritten = await nextFile(watcher);
  assert.equal(rewritten?.path, join(dir, 'new.jpg'));
  assert.notEqual(rewritten?.sizeBytes, found?.sizeBytes);
});

test('a folder removed and created again at once (rm -rf; mkdir) is noticed as another folder and watched again', async (t) => {
  const parent = await tempDir(t);
  const inbox = join(parent, 'inbox');
  await mkdir(inbox);
  const watcher = makeWatcher(t, { folders: [folder(inbox)], rootCheckMs: 20 });
  const events: string[] = [];
  watcher.on('folderError', (e) => events.push(`error:${e.code}`));
  watcher.on('folderRestored', () => events.push('restored'));
  await watcher.start();
  await watcher.scanComplete;
  // Synchronously, so that no check of the watcher can run in between and see the folder missing.
  rmSync(inbox, { recursive: true });
  mkdirSync(inbox);
  await waitUntil(() => events.includes('restored'), 'the folder to be watched again');
  await writeFile(join(inbox, 'after.jpg'), await jpegBytes());
  assert.equal((await nextFile(watcher))?.path, join(inbox, 'after.jpg'));
});

test('recheck() of an older version does not hand out again a newer version already handed out', async (t) => {
  const dir = await tempDir(t);
  const watcher = makeWatcher(t, { folders: [folder(dir)], eager: true, stableMs: 30 });
  await watcher.start();
  const path = join(dir, 'grow.jpg');
  const jpeg = await jpegBytes();
  await writeFile(path, jpeg.subarray(0, 100));
  const older = (await nextFile(watcher)) as WatchedFile;
  assert.equal(older.sizeBytes, 100);
  await writeFile(path, jpeg);
  const newer = (await nextFile(watcher)) as WatchedFile;
  assert.equal(newer.sizeBytes, jpeg.length, 'the complete version is handed out');
  const checksBefore = watcher.counts.checks;
  watcher.recheck(older); // a late consumer reports the older version incomplete
  await waitUntil(() => watcher.counts.pending === 0 && watcher.counts.checks > checksBefore, 'the recheck to be settled');
  assert.equal(watcher.counts.queued, 0, 'the newer version, unchanged, is not handed out a second time');
});

test('a missing folder, or a file given as folder → EW_WATCH_FOLDER at start', async (t) => {
  const dir = await tempDir(t);
  const missing = makeWatcher(t, { folders: [folder(join(dir, 'nope'))] });
  await assert.rejects(missing.start(), (e) => isEdgewatchError(e, 'EW_WATCH_FOLDER') && e.message.includes(join(dir, 'nope')));
  await writeFile(join(dir, 'file.jpg'), 'x');
  const notDir = makeWatcher(t, { folders: [folder(join(dir, 'file.jpg'))], watch: false });
  await assert.rejects(notDir.start(), (e) => isEdgewatchError(e, 'EW_WATCH_FOLDER'));
});

test('a folder removed while watched is a folderError event, not a crash; other folders keep working', async (t) => {
  const parent = await tempDir(t);
  const doomed = join(parent, 'doomed');
  const other = join(parent, 'other');
  await mkdir(doomed);
  await mkdir(other);
  const watcher = makeWatcher(t, { folders: [folder(doomed), folder(other)] });
  const errors: string[] = [];
  watcher.on('folderError', (e) => errors.push(`${e.code}:${String(e.details.path)}`));
  await watcher.start();
  await watcher.scanComplete;
  await rm(doomed, { recursive: true });
  await waitUntil(() => errors.length > 0, 'a folderError event');
  assert.deepEqual(errors, [`EW_WATCH_FOLDER:${doomed}`]);
  await writeFile(join(other, 'still.jpg'), await jpegBytes());
  assert.equal((await nextFile(watcher))?.path, join(other, 'still.jpg'));
});
