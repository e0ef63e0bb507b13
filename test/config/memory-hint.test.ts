/** The low-memory hint: only for --workers 1 on glibc, naming exactly the settings that are missing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryHint } from '../../src/commands/memory-hint.js';

test('memoryHint names the missing memory settings of a --workers 1 run on glibc, and nothing otherwise', () => {
  assert.match(memoryHint(1, {}, () => true) ?? '', /MALLOC_ARENA_MAX=2 and NODE_OPTIONS=--max-semi-space-size=1/);
  assert.match(memoryHint(1, { MALLOC_ARENA_MAX: '4' }, () => true) ?? '', /set NODE_OPTIONS=--max-semi-space-size=1 in/);
  assert.match(memoryHint(1, { NODE_OPTIONS: '--max-semi-space-size=2 --enable-source-maps' }, () => true) ?? '', /set MALLOC_ARENA_MAX=2 in/);
  assert.equal(memoryHint(1, { MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=1' }, () => true), undefined, 'both set');
  assert.equal(memoryHint(2, {}, () => { throw new Error('glibc probed'); }), undefined, 'not the low-memory mode, and nothing probed');
  assert.equal(memoryHint(1, {}, () => false), undefined, 'musl, macOS, Windows: MALLOC_ARENA_MAX does not apply');
});
