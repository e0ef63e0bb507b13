/** The scan rules: which folders a scan enters, which files are candidates, and what a recursive watch leaves out. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileSkipReason, scanRules, skipsFolder, watchIgnores } from '../../src/watch/scan.js';

const root = '/data/inbox';
const rules = scanRules({ path: root, source: 'test', tags: [], recursive: true }, ['JPG', '.png'], [join(root, 'rejected')]);

test('a scan enters sub-folders, but not ignored or hidden ones (nor those below them)', () => {
  assert.equal(skipsFolder(rules, join(root, 'cam1')), false);
  assert.equal(skipsFolder(rules, join(root, 'cam1', '2024')), false);
  assert.equal(skipsFolder(rules, join(root, 'rejected')), true);
  assert.equal(skipsFolder(rules, join(root, 'rejected', 'deeper')), true);
  assert.equal(skipsFolder(rules, join(root, '.thumbnails')), true);
  assert.equal(skipsFolder(rules, join(root, 'cam1', '.cache', 'x')), true);
});

test('candidates: configured extensions (normalised), not hidden, temporary or ignored', () => {
  assert.equal(fileSkipReason(rules, join(root, 'cam1', 'a.JPG')), undefined);
  assert.equal(fileSkipReason(rules, join(root, 'b.png')), undefined);
  assert.equal(fileSkipReason(rules, join(root, 'c.gif')), 'extension');
  assert.equal(fileSkipReason(rules, join(root, '.d.jpg')), 'hidden');
  assert.equal(fileSkipReason(rules, join(root, 'e.jpg.part')), 'temporary');
  assert.equal(fileSkipReason(rules, join(root, 'rejected', 'f.jpg')), 'ignored-path');
});

test('a recursive watch leaves out what a scan does not enter, and everything outside the root (its parent included)', () => {
  const dir = { isDirectory: () => true } as never;
  assert.equal(watchIgnores(rules, root, dir), false);
  assert.equal(watchIgnores(rules, join(root, 'cam1'), dir), false);
  assert.equal(watchIgnores(rules, join(root, '.hidden.jpg')), false, 'reported as skipped, not ignored');
  assert.equal(watchIgnores(rules, join(root, '.thumbnails'), dir), true);
  assert.equal(watchIgnores(rules, join(root, '.thumbnails', 'a.jpg')), true);
  assert.equal(watchIgnores(rules, join(root, 'rejected', 'a.jpg')), true);
  assert.equal(watchIgnores(rules, '/data', dir), true);
  assert.equal(watchIgnores(rules, '/data/inbox2', dir), true);
});
