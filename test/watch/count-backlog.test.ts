/** countBacklog: counts what the watcher would hand out (same sub-folders entered, same files kept), minus the files already done. */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { WatchFolder } from '../../src/config/schema.js';
import { countBacklog, FolderWatcher } from '../../src/watch/index.js';
import { tempDir, writeJpeg, writePng } from '../helpers/images.js';

const EXTENSIONS = ['.jpg', '.png'];

function folder(path: string, recursive: boolean): WatchFolder {
  return { path, source: 'test', tags: [], recursive };
}

/** A folder with one image at the root, one in a sub-folder, and images the count must leave out. */
async function makeInbox(dir: string): Promise<{ rejected: string; done: string }> {
  const rejected = join(dir, 'rejected');
  for (const sub of ['sub', 'rejected', '.hidden', join('sub', '.thumbnails')]) await mkdir(join(dir, sub), { recursive: true });
  await writeJpeg(dir, 'root.jpg');
  await writePng(join(dir, 'sub'), 'nested.png');
  await writeJpeg(rejected, 'rejected.jpg'); // under ignorePaths
  await writeJpeg(join(dir, '.hidden'), 'in-hidden.jpg'); // hidden folder
  await writeJpeg(join(dir, 'sub', '.thumbnails'), 'thumb.jpg'); // hidden folder below a sub-folder
  await writeJpeg(dir, '.dotfile.jpg'); // hidden file
  await writeJpeg(dir, 'copy.jpg.part'); // temporary
  await writeJpeg(dir, 'notes.txt'); // other extension
  const done = await writeJpeg(dir, 'done.jpg'); // the ledger has it
  return { rejected, done };
}

test('countBacklog counts the files of sub-folders when recursive, and leaves out ignored folders, hidden folders, non-candidates and done files', async (t) => {
  const dir = await tempDir(t);
  const { rejected, done } = await makeInbox(dir);
  const isDone = (path: string) => path === done;
  assert.equal(await countBacklog([folder(dir, true)], EXTENSIONS, [rejected], isDone), 2, 'root.jpg and sub/nested.png');
  assert.equal(await countBacklog([folder(dir, false)], EXTENSIONS, [rejected], isDone), 1, 'flat: root.jpg only');
  assert.equal(await countBacklog([folder(dir, true)], ['JPG', 'png'], [rejected], () => false), 3, 'extensions as configured; done.jpg counts when not done');
});

test('countBacklog agrees with what the watcher hands out in once mode', async (t) => {
  const dir = await tempDir(t);
  const { rejected, done } = await makeInbox(dir);
  const watcher = new FolderWatcher({ folders: [folder(dir, true)], extensions: EXTENSIONS, stableMs: 20, ignorePaths: [rejected], capacity: 4, watch: false, isDone: (f) => f.path === done });
  t.after(() => watcher.close());
  await watcher.start();
  const handedOut: string[] = [];
  for (let file = await watcher.next(); file; file = await watcher.next()) handedOut.push(file.path);
  assert.deepEqual(handedOut.sort(), [join(dir, 'root.jpg'), join(dir, 'sub', 'nested.png')]);
  assert.equal(await countBacklog([folder(dir, true)], EXTENSIONS, [rejected], (path) => path === done), handedOut.length);
});

test('countBacklog rejects when a watched folder is missing', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(countBacklog([folder(join(dir, 'nope'), true)], EXTENSIONS, [], () => false), { code: 'ENOENT' });
});
