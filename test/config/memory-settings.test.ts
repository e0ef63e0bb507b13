/** The agent's memory settings: the young-generation cap it applies itself, and the low-memory hint for what only the environment can set. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { capYoungGeneration, memoryHint } from '../../src/commands/memory-settings.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

test('memoryHint names MALLOC_ARENA_MAX for a --workers 1 run on glibc without it, and nothing otherwise', () => {
  assert.match(memoryHint(1, {}, () => true) ?? '', /set MALLOC_ARENA_MAX=2 in the agent's environment/);
  assert.equal(memoryHint(1, { MALLOC_ARENA_MAX: '4' }, () => true), undefined, 'the user chose a value');
  assert.equal(memoryHint(2, {}, () => { throw new Error('glibc probed'); }), undefined, 'not the low-memory mode, and nothing probed');
  assert.equal(memoryHint(1, {}, () => false), undefined, 'musl, macOS, Windows: MALLOC_ARENA_MAX does not apply');
});

test('capYoungGeneration leaves a young-generation size the user chose in node arguments or NODE_OPTIONS alone', () => {
  assert.equal(capYoungGeneration(['--max-semi-space-size=8'], undefined), false);
  assert.equal(capYoungGeneration([], '--enable-source-maps --semi_space_growth_factor=4'), false);
  assert.equal(capYoungGeneration(['--max-young-generation-size=64'], ''), false);
});

test('capYoungGeneration stops the main thread young generation from growing, in a real process that keeps objects alive across scavenges', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ew-young-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'young.mts');
  await writeFile(
    script,
    [
      `import { getHeapSpaceStatistics } from 'node:v8';`,
      `import { capYoungGeneration } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'commands', 'memory-settings.ts')).href)};`,
      `const applied = process.argv[2] === 'cap' ? capYoungGeneration() : false;`,
      `let keep = [];`,
      `for (let i = 0; i < 2_000_000; i++) { keep.push({ a: i, b: [i, i + 1] }); if (keep.length > 100_000) keep = keep.slice(50_000); }`,
      `const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');`,
      `process.stdout.write(JSON.stringify({ applied, mb: space.space_size / 1048576 }));`,
    ].join('\n'),
  );
  const env = { ...process.env, NODE_OPTIONS: '' };
  const measure = async (arg: string) => JSON.parse((await run(process.execPath, ['--import', 'tsx', script, arg], { cwd: ROOT, env })).stdout) as { applied: boolean; mb: number };
  const free = await measure('');
  const capped = await measure('cap');
  assert.equal(capped.applied, true);
  assert.ok(free.mb >= 16, `without the cap the young generation grows (${free.mb} MB)`);
  assert.ok(capped.mb <= 4, `with the cap it stays at its start size (${capped.mb} MB)`);
});
