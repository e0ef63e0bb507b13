/** The README's reference tables are generated from the schemas and the error catalogue: this keeps them in step. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { exitCodes, readmeSections } from '../../scripts/readme-sections.js';
import { EXIT } from '../../src/errors.js';

test('README reference sections match the schemas and the error catalogue (run scripts/readme-tables.ts)', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  for (const [name, content] of Object.entries(await readmeSections())) {
    const start = `<!-- ${name}:start -->\n`;
    const i = readme.indexOf(start);
    const j = readme.indexOf(`<!-- ${name}:end -->`);
    assert.ok(i !== -1 && j > i, `README has the ${name} section`);
    assert.equal(readme.slice(i + start.length, j).trim(), content.trim(), `README section ${name} is up to date`);
  }
});

test('exit codes: the README table is the documentation of EXIT, which says rejected files do not make --once fail', () => {
  const codes = exitCodes();
  assert.deepEqual(codes.map((c) => [c.name, c.code]), Object.entries(EXIT), 'one row per EXIT member, in order');
  // run-once.test.ts checks the behaviour (bad files rejected, exit 0); this keeps the words in step with it.
  for (const name of ['OK', 'FAILURES']) assert.match(codes.find((c) => c.name === name)!.meaning, /rejected bad files do not count/, name);
});

test('README starts with the two commands', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const head = readme.slice(0, 400);
  assert.match(head, /npm ci/);
  assert.match(head, /npm start/);
  assert.match(head, /npm test/);
});
