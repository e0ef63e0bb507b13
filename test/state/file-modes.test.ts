/** Issue 14: the agent's state folder and database are private (0700 / 0600), whatever the umask allowed before. */
import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStateDb } from '../../src/state/state-db.js';
import { tempDir } from '../helpers/images.js';

const mode = async (p: string) => (await stat(p)).mode & 0o777;

test('a new state folder is 0700 and the database with its WAL files 0600', async (t) => {
  const parent = await tempDir(t, 'ew-modes-');
  const dir = join(parent, 'state');
  const db = openStateDb(dir);
  db.prepare("INSERT INTO meta (key, value) VALUES ('k', 'v')").run();
  t.after(() => db.close());
  assert.equal(await mode(dir), 0o700);
  for (const name of ['edgewatch.db', 'edgewatch.db-wal', 'edgewatch.db-shm']) assert.equal(await mode(join(dir, name)), 0o600, name);
});

test('a database created 0644 by an earlier version is made 0600 when opened', async (t) => {
  const dir = await tempDir(t, 'ew-modes-');
  const file = join(dir, 'edgewatch.db');
  openStateDb(dir).close();
  await chmod(file, 0o644);
  await writeFile(join(dir, 'other.txt'), 'not ours');
  const db = openStateDb(dir);
  t.after(() => db.close());
  assert.equal(await mode(file), 0o600);
});
