/** Issue 14: symbolic links in watched folders are skipped unless followSymlinks (--follow-symlinks) is on. */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { agentConfigSchema, watchFolders, type WatchFolder } from '../../src/config/schema.js';
import { FolderWatcher, countBacklog, type SkipReason } from '../../src/watch/index.js';
import { jpegBytes, tempDir } from '../helpers/images.js';
import { waitUntil } from '../helpers/service.js';
import { drain, nextFile } from '../helpers/watcher.js';

function watcherOf(t: TestContext, folder: WatchFolder, watch: boolean): { watcher: FolderWatcher; skipped: Map<string, SkipReason> } {
  const watcher = new FolderWatcher({ folders: [folder], extensions: ['.jpg'], stableMs: 50, ignorePaths: [], capacity: 8, watch });
  const skipped = new Map<string, SkipReason>();
  watcher.on('skipped', ({ path, reason }) => skipped.set(path, reason));
  t.after(() => watcher.close());
  return { watcher, skipped };
}

/** A watched folder holding `real.jpg`, `link.jpg` (a link to a file outside it) and `linked-dir` (a link to a folder with an image). */
async function layout(t: TestContext): Promise<{ dir: string; outside: string }> {
  const dir = await tempDir(t, 'ew-links-');
  const outside = await tempDir(t, 'ew-outside-');
  const jpeg = await jpegBytes();
  await writeFile(join(dir, 'real.jpg'), jpeg);
  await writeFile(join(outside, 'secret.jpg'), await jpegBytes({ width: 40 }));
  await mkdir(join(outside, 'folder'));
  await writeFile(join(outside, 'folder', 'inner.jpg'), jpeg);
  await symlink(join(outside, 'secret.jpg'), join(dir, 'link.jpg'));
  await symlink(join(outside, 'folder'), join(dir, 'linked-dir'));
  return { dir, outside };
}

test('the followSymlinks key defaults to off and reaches every watched folder', () => {
  const base = { champion: 'm', apiToken: 't', deployment: 'd' };
  assert.equal(watchFolders(agentConfigSchema.parse({ ...base, watch: ['a', { path: 'b' }] })).every((f) => f.followSymlinks === false), true);
  assert.equal(watchFolders(agentConfigSchema.parse({ ...base, watch: ['a'], followSymlinks: true }))[0]?.followSymlinks, true);
});

test('scans skip links (reason symlink) by default; with followSymlinks links to files are read, links to folders never entered', async (t) => {
  const { dir } = await layout(t);
  for (const recursive of [false, true]) {
    const off = watcherOf(t, { path: dir, source: 's', tags: [], recursive }, false);
    await off.watcher.start();
    assert.deepEqual(await drain(off.watcher), [join(dir, 'real.jpg')], `recursive ${recursive}`);
    assert.equal(off.skipped.get(join(dir, 'link.jpg')), 'symlink');
    assert.equal(await countBacklog([{ path: dir, source: 's', tags: [], recursive }], ['.jpg'], [], () => false), 1);

    const on = watcherOf(t, { path: dir, source: 's', tags: [], recursive, followSymlinks: true }, false);
    await on.watcher.start();
    assert.deepEqual(await drain(on.watcher), [join(dir, 'link.jpg'), join(dir, 'real.jpg')], `recursive ${recursive}, following`);
    assert.equal(await countBacklog([{ path: dir, source: 's', tags: [], recursive, followSymlinks: true }], ['.jpg'], [], () => false), 2);
  }
});

test('a link created while watching is skipped; a file created after it is still picked up', async (t) => {
  const dir = await tempDir(t, 'ew-links-');
  const outside = await tempDir(t, 'ew-outside-');
  await writeFile(join(outside, 'secret.jpg'), await jpegBytes());
  for (const recursive of [false, true]) {
    const sub = join(dir, `r-${recursive}`);
    await mkdir(sub);
    const { watcher, skipped } = watcherOf(t, { path: sub, source: 's', tags: [], recursive }, true);
    await watcher.start();
    await symlink(join(outside, 'secret.jpg'), join(sub, 'late-link.jpg'));
    await writeFile(join(sub, 'late-real.jpg'), await jpegBytes({ width: 48 }));
    assert.equal((await nextFile(watcher))?.path, join(sub, 'late-real.jpg'), `recursive ${recursive}`);
    await waitUntil(() => skipped.get(join(sub, 'late-link.jpg')) === 'symlink', 15_000, `the link skipped (recursive ${recursive})`);
    assert.equal(watcher.counts.queued, 0, 'nothing else queued');
  }
});
