/** Configuration: flags, environment and file merge through one schema; one line per problem; secrets never echoed. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { agentConfigSchema, ENV_ALIASES, watchFolders } from '../../src/config/schema.js';
import { describeFields } from '../../src/config/fields.js';
import { helpText, loadConfig } from '../../src/config/load.js';
import { EdgewatchError } from '../../src/errors.js';

const base = ['--watch', './inbox', '--champion', './m', '--deployment', 'line-3'];

function load(argv: string[], env: Record<string, string> = {}) {
  return loadConfig(agentConfigSchema, { argv, env, envAliases: ENV_ALIASES }).config;
}

test('flags, EDGEWATCH_* variables and PICSELLIA_API_TOKEN build a frozen config with defaults', () => {
  const config = load([...base, '--top-k', '3', '--once', '--tags', 'a,b', '--tags', 'c'], { PICSELLIA_API_TOKEN: 'tok-123', EDGEWATCH_CONCURRENCY: '2' });
  assert.equal(config.apiToken, 'tok-123');
  assert.equal(config.topK, 3);
  assert.equal(config.once, true);
  assert.equal(config.concurrency, 2);
  assert.deepEqual(config.tags, ['a', 'b', 'c']);
  assert.equal(config.host, 'https://app.picsellia.com');
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.tags));
});

test('flags override environment which overrides the config file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ew-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'edgewatch.json');
  await writeFile(file, JSON.stringify({ watch: [{ path: '/cam1', source: 'camera-1', tags: ['line-3'] }, '/cam2'], champion: 'c', deployment: 'd', apiToken: 'from-file', topK: 2, concurrency: 7 }));
  const config = load(['--config', file, '--top-k', '5'], { EDGEWATCH_CONCURRENCY: '3' });
  assert.equal(config.topK, 5);
  assert.equal(config.concurrency, 3);
  assert.equal(config.apiToken, 'from-file');
  const folders = watchFolders(config);
  assert.deepEqual(folders[0], { path: '/cam1', source: 'camera-1', tags: ['line-3'], recursive: false, followSymlinks: false });
  assert.deepEqual(folders[1], { path: '/cam2', source: 'edgewatch', tags: [], recursive: false, followSymlinks: false });
});

test('invalid configuration: EW_CONFIG_INVALID with one line per problem naming the key, never the token', () => {
  const secret = 'super-secret-token-value';
  assert.throws(
    () => load(['--watch', 'x', '--top-k', 'lots', '--backend', 'gpu', '--host', 'ftp://nope'], { PICSELLIA_API_TOKEN: secret }),
    (err: unknown) => {
      assert.ok(err instanceof EdgewatchError);
      assert.equal(err.code, 'EW_CONFIG_INVALID');
      const problems = err.details.problems as string[];
      const text = problems.join('\n');
      for (const key of ['champion', 'deployment', 'topK', 'backend', 'host']) assert.match(text, new RegExp(`^${key} \\(`, 'm'), `${key} named`);
      assert.match(text, /one of: auto, tensorflow, wasm, cpu/);
      assert.ok(!err.message.includes(secret));
      return true;
    },
  );
});

test('unknown flag: EW_USAGE; unknown config file key and unreadable file are reported', async (t) => {
  assert.throws(() => load([...base, '--frobnicate']), (err: unknown) => err instanceof EdgewatchError && err.code === 'EW_USAGE');
  const dir = await mkdtemp(join(tmpdir(), 'ew-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.json');
  await writeFile(file, JSON.stringify({ colour: 'blue' }));
  assert.throws(() => load([...base, '--config', file], { PICSELLIA_API_TOKEN: 't' }), (err: unknown) => err instanceof EdgewatchError && /unknown key\(s\): colour/.test(err.message));
  assert.throws(() => load([...base, '--config', join(dir, 'missing.json')]), (err: unknown) => err instanceof EdgewatchError && err.code === 'EW_CONFIG_FILE');
  await writeFile(file, '{not json');
  assert.throws(() => load([...base, '--config', file]), (err: unknown) => err instanceof EdgewatchError && err.code === 'EW_CONFIG_FILE');
});

test('every schema key has a description, a flag and an environment variable in --help', () => {
  const help = helpText(agentConfigSchema, undefined, ENV_ALIASES);
  for (const field of describeFields(agentConfigSchema)) {
    assert.ok(field.description.length > 10, `${field.key} described`);
    assert.ok(help.includes(field.flag), `${field.flag} in help`);
    assert.ok(help.includes(field.env), `${field.env} in help`);
  }
  assert.ok(help.includes('PICSELLIA_API_TOKEN'));
});

test('positionals: arguments feed the named list key after its flag values; without the option they are EW_USAGE', () => {
  const schema = z.object({ name: z.array(z.string().min(1)).default([]).describe('Names.'), force: z.boolean().default(false).describe('Force.') }).strict();
  const load = (argv: string[], env: Record<string, string> = {}) => loadConfig(schema, { argv, env, positionals: 'name' }).config;
  assert.deepEqual(load(['a', '--force', 'b,c', '--name', 'x']), { name: ['x', 'a', 'b', 'c'], force: true });
  assert.deepEqual(load(['--', '--not-a-flag']).name, ['--not-a-flag']);
  assert.deepEqual(load([], { EDGEWATCH_NAME: 'from-env' }).name, ['from-env']);
  assert.deepEqual(load(['arg'], { EDGEWATCH_NAME: 'from-env' }).name, ['arg'], 'arguments are flags: they override the environment');
  assert.deepEqual(load([]).name, []);
  assert.throws(() => loadConfig(schema, { argv: ['a'] }), (err: unknown) => err instanceof EdgewatchError && err.code === 'EW_USAGE' && /positional/.test(err.message));
  assert.throws(() => loadConfig(schema, { argv: ['--bogus'], positionals: 'name' }), (err: unknown) => err instanceof EdgewatchError && err.code === 'EW_USAGE');
  assert.throws(() => loadConfig(schema, { argv: [], positionals: 'force' }), TypeError, 'only a list key can take positionals');
});
