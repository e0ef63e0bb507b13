/** `npm test` itself: every test file runs, and none may leave a handle open (no --test-force-exit to hide one). */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';

test('npm test runs without --test-force-exit and its globs name every test folder', async () => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
  const script = pkg.scripts.test ?? '';
  assert.doesNotMatch(script, /--test-force-exit/, 'a test that leaves a watcher, timer or socket open must be fixed, not hidden');
  const folders = (await readdir(new URL('../', import.meta.url), { withFileTypes: true })).filter((d) => d.isDirectory());
  for (const folder of folders) {
    const files = await readdir(new URL(`../${folder.name}/`, import.meta.url));
    if (!files.some((f) => f.endsWith('.test.ts'))) continue;
    assert.ok(script.includes('test/*/*.test.ts') || script.includes(`test/${folder.name}/`), `npm test runs test/${folder.name}/`);
  }
});
