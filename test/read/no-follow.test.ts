/** No-follow reads: a file swapped for a symbolic link (or a FIFO) after the watcher's lstat is not followed when followSymlinks is off. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readFile, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isEdgewatchError, type EdgewatchError } from '../../src/errors.js';
import { readImage, rejectFile } from '../../src/read/index.js';
import type { InputSpec } from '../../src/types.js';
import { tempDir, writeJpeg } from '../helpers/images.js';

const LIMITS = { maxPixels: 100_000_000, maxFileBytes: 64 * 1024 * 1024 };
const SPECS: InputSpec[] = [{ width: 32, height: 32, channels: 3, fit: 'fill' }];

async function readError(path: string, limits: typeof LIMITS & { followSymlinks?: boolean }): Promise<EdgewatchError> {
  try {
    await readImage(path, SPECS, limits);
  } catch (err) {
    assert.ok(isEdgewatchError(err), `an EdgewatchError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${path} was read without error`);
}

/** A watched folder with a regular image the watcher has seen, and a secret image outside it; the image is then atomically replaced by a link to the secret. */
async function swappedForLink(dir: string): Promise<{ path: string; secret: string }> {
  const watched = join(dir, 'inbox');
  const outside = join(dir, 'outside');
  await mkdir(watched);
  await mkdir(outside);
  const path = await writeJpeg(watched, 'cam.jpg', { width: 40, height: 30 });
  const secret = await writeJpeg(outside, 'secret.jpg', { width: 64, height: 48 });
  assert.ok((await lstat(path)).isFile(), 'what the watcher saw: a regular file');
  await symlink(secret, join(watched, '.swap'));
  await rename(join(watched, '.swap'), path);
  return { path, secret };
}

test('a file swapped for a symlink before the read: EW_IMAGE_SYMLINK, the link is not followed', async (t) => {
  const dir = await tempDir(t);
  const { path } = await swappedForLink(dir);
  for (const limits of [LIMITS, { ...LIMITS, followSymlinks: false }]) {
    const err = await readError(path, limits);
    assert.equal(err.code, 'EW_IMAGE_SYMLINK');
    assert.ok(err.message.includes(path), err.message);
    assert.match(err.message, /--follow-symlinks/);
    assert.equal(err.details.errno, 'ELOOP');
  }
});

test('with followSymlinks on, the same link is read: the target\'s bytes and size', async (t) => {
  const dir = await tempDir(t);
  const { path, secret } = await swappedForLink(dir);
  const image = await readImage(path, SPECS, { ...LIMITS, followSymlinks: true });
  assert.ok(image.bytes.equals(await readFile(secret)));
  assert.deepEqual([image.width, image.height], [64, 48]);
});

test('set aside, the link itself moves to rejected/: its target stays where it was', async (t) => {
  const dir = await tempDir(t);
  const { path, secret } = await swappedForLink(dir);
  const err = await readError(path, LIMITS);
  const moved = await rejectFile(path, join(dir, 'inbox', 'rejected'), err);
  assert.ok((await lstat(moved.movedTo)).isSymbolicLink());
  assert.ok((await lstat(secret)).isFile());
});

test('a file swapped for a FIFO does not hang the open: EW_IMAGE_UNREADABLE (not a regular file)', { timeout: 20_000 }, async (t) => {
  const dir = await tempDir(t);
  const path = await writeJpeg(dir, 'cam.jpg');
  execFileSync('mkfifo', [join(dir, '.fifo')]);
  await rename(join(dir, '.fifo'), path);
  const err = await readError(path, LIMITS);
  assert.equal(err.code, 'EW_IMAGE_UNREADABLE');
  assert.match(err.message, /not a regular file/);
});
