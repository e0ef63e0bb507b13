/** rejectFile: moves without overwriting, writes the reason atomically, handles vanished files, other devices and failures. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgewatchError, isEdgewatchError } from '../../src/errors.js';
import { rejectFile } from '../../src/read/index.js';
import { tempDir } from '../helpers/images.js';

const ERROR = new EdgewatchError('EW_IMAGE_CORRUPT', '/x/a.jpg is corrupt and cannot be decoded (test); check the device.');

test('name collisions get a -N suffix and never overwrite an earlier rejection', async (t) => {
  const dir = await tempDir(t);
  const rejected = join(dir, 'deep', 'rejected');
  const moved: string[] = [];
  for (const content of ['first', 'second', 'third']) {
    const path = join(dir, 'a.jpg');
    await writeFile(path, content);
    const result = await rejectFile(path, rejected, ERROR);
    moved.push(result.movedTo);
  }
  assert.deepEqual(moved, [join(rejected, 'a.jpg'), join(rejected, 'a-1.jpg'), join(rejected, 'a-2.jpg')]);
  assert.deepEqual(await Promise.all(moved.map((p) => readFile(p, 'utf8'))), ['first', 'second', 'third']);
  assert.deepEqual((await readdir(rejected)).sort(), [
    'a-1.jpg',
    'a-1.jpg.reason.json',
    'a-2.jpg',
    'a-2.jpg.reason.json',
    'a.jpg',
    'a.jpg.reason.json',
  ]);
  // A reason file whose image was removed by hand still holds its slot.
  await rm(join(rejected, 'a.jpg'));
  await writeFile(join(dir, 'a.jpg'), 'fourth');
  assert.equal((await rejectFile(join(dir, 'a.jpg'), rejected, ERROR)).movedTo, join(rejected, 'a-3.jpg'));
});

test('a vanished file → EW_WATCH_VANISHED, nothing written', async (t) => {
  const dir = await tempDir(t);
  const rejected = join(dir, 'rejected');
  await assert.rejects(rejectFile(join(dir, 'gone.jpg'), rejected, ERROR), (e) => isEdgewatchError(e, 'EW_WATCH_VANISHED'));
  assert.deepEqual(await readdir(rejected), []);
});

test('a rejected folder that cannot be created → EW_REJECT_MOVE, the file stays where it was', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'a.jpg');
  await writeFile(path, 'x');
  await writeFile(join(dir, 'blocker'), 'a regular file where a folder should be');
  await assert.rejects(rejectFile(path, join(dir, 'blocker', 'rejected'), ERROR), (e) => isEdgewatchError(e, 'EW_REJECT_MOVE') && e.message.includes(path));
  assert.equal(await readFile(path, 'utf8'), 'x');
});

test('across devices (tmpdir → /dev/shm): copied, synced, original removed', async (t) => {
  const dir = await tempDir(t);
  const shm = await mkdtemp('/dev/shm/edgewatch-test-').catch(() => undefined);
  if (!shm || (await stat(shm)).dev === (await stat(dir)).dev) {
    t.skip('no second file system available');
    return;
  }
  t.after(() => rm(shm, { recursive: true, force: true }));
  const path = join(dir, 'a.jpg');
  await writeFile(path, 'bytes');
  const { movedTo, reasonFile } = await rejectFile(path, join(shm, 'rejected'), ERROR);
  assert.equal(await readFile(movedTo, 'utf8'), 'bytes');
  assert.equal(JSON.parse(await readFile(reasonFile, 'utf8')).code, 'EW_IMAGE_CORRUPT');
  await assert.rejects(stat(path), { code: 'ENOENT' });

  const folder = join(dir, 'folder.jpg');
  await mkdir(folder);
  await writeFile(join(folder, 'inner'), 'inner');
  const movedFolder = await rejectFile(folder, join(shm, 'rejected'), ERROR);
  assert.equal(await readFile(join(movedFolder.movedTo, 'inner'), 'utf8'), 'inner');
  await assert.rejects(stat(folder), { code: 'ENOENT' });
});
