/** `edgewatch models` through the CLI: options from its schemas, errors in the CLI's format, and a `list` that loads none of the heavy packages. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MODELS_ENV_PREFIX, modelsListConfigSchema, modelsPullConfigSchema } from '../../src/commands/models.js';
import { describeFields } from '../../src/config/fields.js';
import { KNOWN_MODELS } from '../../src/models/catalog.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/images.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

test('models: usage and configuration errors exit 2 in the CLI format `edgewatch: EW_CODE: message`', async (t) => {
  const root = await tempDir(t, 'edgewatch-cli-models-');
  const cases: [string[], RegExp][] = [
    [[], /EW_USAGE: models needs one of pull, list, push\./],
    [['frobnicate'], /EW_USAGE: models needs one of pull, list, push \(got "frobnicate"\)/],
    [['pull', '--bogus'], /EW_USAGE: .*--bogus/],
    [['pull', '--dest'], /EW_USAGE: .*--dest/],
    [['pull', '--force=yes'], /EW_USAGE: .*--force/],
    [['list', 'extra'], /EW_USAGE: .*positional/],
    [['pull', '--dest', ''], /EW_CONFIG_INVALID: .*\n  dest \(--dest, EDGEWATCH_MODELS_DEST\)/],
    // Names come from arguments and --name alike, and are all checked before anything is fetched.
    [['pull', KNOWN_MODELS[0]!.name, '--name', 'no-such-model', '--dest', join(root, 'models')], /EW_USAGE: Unknown model "no-such-model"/],
  ];
  for (const [argv, message] of cases) {
    const run = await runCli(['models', ...argv]);
    assert.equal(run.code, 2, `models ${argv.join(' ')}: ${run.err}`);
    assert.match(run.err, /^edgewatch: EW_[A-Z_]+: /, `models ${argv.join(' ')}`);
    assert.match(run.err, message, `models ${argv.join(' ')}`);
  }
});

test('models --help, models pull --help and models list --help print the option table of their schema', async () => {
  const checks: [string[], typeof modelsPullConfigSchema | typeof modelsListConfigSchema][] = [
    [['pull', '--help'], modelsPullConfigSchema],
    [['list', '-h'], modelsListConfigSchema],
    [['--help'], modelsPullConfigSchema],
    [['help'], modelsListConfigSchema],
  ];
  for (const [argv, schema] of checks) {
    const run = await runCli(['models', ...argv]);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /Options \(flag, environment variable, default\):/);
    for (const field of describeFields(schema, MODELS_ENV_PREFIX)) {
      assert.ok(field.description.length > 10, `${field.key} described`);
      assert.ok(run.out.includes(`  ${field.flag}`) && run.out.includes(field.env), `models ${argv.join(' ')}: ${field.flag} and ${field.env}`);
    }
  }
  assert.doesNotMatch((await runCli(['models', 'list', '--help'])).out, /--force/, 'list shows only its own options');
});

test('models list shows every known model as not pulled, with --dest from EDGEWATCH_MODELS_DEST', async (t) => {
  const root = await tempDir(t, 'edgewatch-cli-models-');
  const run = await runCli(['models', 'list'], { EDGEWATCH_MODELS_DEST: root });
  assert.equal(run.code, 0, run.err);
  for (const model of KNOWN_MODELS) assert.match(run.out, new RegExp(`^${model.name} +not pulled +${model.package}@${model.version}`, 'm'));
});

test('models list loads neither TF.js nor sharp, better-sqlite3 or undici (nor the agent)', async (t) => {
  const root = await tempDir(t, 'edgewatch-cli-models-');
  const log = join(root, 'imports.log');
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './test/helpers/record-imports.ts', 'test/helpers/cli-entry.ts', 'models', 'list', '--dest', join(root, 'models')],
    { cwd: REPO, env: { ...env, EDGEWATCH_TEST_IMPORT_LOG: log }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, err);
  assert.match(out, new RegExp(`^${KNOWN_MODELS[0]!.name} +not pulled`, 'm'));
  const loaded = (await readFile(log, 'utf8')).split('\n').filter((line) => line !== '');
  // The recorder sees both our modules and packages: without these the check below would prove nothing.
  assert.ok(loaded.some((url) => url.endsWith('/src/commands/models.ts')), 'the recorder saw the models command');
  assert.ok(loaded.some((url) => url.includes('/node_modules/zod/')), 'the recorder saw a package');
  assert.ok(loaded.some((url) => url.includes('/node_modules/pino/')), 'the recorder saw a CommonJS package');
  const heavy = loaded.filter((url) => /\/node_modules\/(@tensorflow\/|sharp\/|@img\/|better-sqlite3\/|undici\/)|\/src\/(agent|index)\.ts$/.test(url));
  assert.deepEqual([...new Set(heavy)], []);
});
