// Tests of `models pull` on a synthetic npm tarball in nsfwjs's browserify layout (no network).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadLayersModel } from '@tensorflow/tfjs-layers';
import { isEdgewatchError } from '../../src/errors.js';
import type { KnownModel } from '../../src/models/catalog.js';
import { fileIntegrity } from '../../src/models/npm-tarball.js';
import { parseJsLiteral } from '../../src/models/js-literal.js';
import { pullModels, verifyPulledModel } from '../../src/models/pull.js';

/** Writes a value as a minifier would: bare keys, `!0`/`!1`, `.5`. */
function toMinifiedLiteral(value: unknown): string {
  if (value === true) return '!0';
  if (value === false) return '!1';
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value).replace(/^(-?)0\./, '$1.');
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(toMinifiedLiteral).join(',')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}:${toMinifiedLiteral(v)}`)
    .join(',')}}`;
}

/** A single-module bundle in browserify's shape whose module 1 is `body` (never executed by the code under test). */
function bundle(body: string): string {
  return `!function(e){module.exports=e()}(function(){return function t(n,r,o){return n[1]}({1:[function(e,n,r){${body}},{}]},{},[1])(1)});`;
}

const KERNEL_SHAPE = [12, 5];
const BIAS_SHAPE = [5];

function tinyModelJson(): Record<string, unknown> {
  return {
    modelTopology: {
      keras_version: '2.2.4',
      backend: 'tensorflow',
      model_config: {
        class_name: 'Sequential',
        config: {
          name: 'tiny',
          layers: [
            { class_name: 'Flatten', config: { name: 'flatten', trainable: false, batch_input_shape: [null, 2, 2, 3], dtype: 'float32' } },
            { class_name: 'Dense', config: { name: 'dense', trainable: false, units: 5, activation: 'softmax', use_bias: true, kernel_initializer: { class_name: 'Zeros', config: {} }, bias_initializer: { class_name: 'Zeros', config: {} } } },
          ],
        },
      },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of2', 'group1-shard2of2'],
        weights: [
          { name: 'dense/kernel', shape: KERNEL_SHAPE, dtype: 'float32' },
          { name: 'dense/bias', shape: BIAS_SHAPE, dtype: 'float32' },
        ],
      },
    ],
  };
}

interface Fixture {
  root: string;
  dest: string;
  cache: string;
  weights: Buffer;
  catalog: KnownModel[];
}

/** Builds a fake package tarball holding a tiny model in nsfwjs's layout; `shardOverride` replaces shard 2's bundle text. */
async function makeFixture(t: { after: (fn: () => Promise<void>) => void }, shardOverride?: string): Promise<Fixture> {
  const root = await mkdtemp(join(tmpdir(), 'edgewatch-pull-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const pkg = join(root, 'src', 'package');
  const modelDir = join(pkg, 'dist', 'models', 'tiny');
  await mkdir(modelDir, { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'fake-models', version: '1.0.0', license: 'MIT' }));
  await writeFile(join(pkg, 'LICENSE'), 'MIT License\n\nCopyright (c) test\n');
  const weights = Buffer.from(new Float32Array((12 * 5 + 5)).map((_, i) => (i % 7) / 10).buffer);
  const split = 200;
  await writeFile(join(modelDir, 'model.min.js'), bundle(`n.exports=${toMinifiedLiteral(tinyModelJson())}`));
  await writeFile(join(modelDir, 'group1-shard1of2.min.js'), bundle(`n.exports="${weights.subarray(0, split).toString('base64')}"`));
  await writeFile(join(modelDir, 'group1-shard2of2.min.js'), shardOverride ?? bundle(`n.exports="${weights.subarray(split).toString('base64')}"`));
  const tarball = join(root, 'fake-models.tgz');
  execFileSync('tar', ['-czf', tarball, '-C', join(root, 'src'), 'package']);
  const catalog: KnownModel[] = [
    {
      name: 'tiny',
      description: 'tiny test model',
      package: 'fake-models',
      version: '1.0.0',
      integrity: await fileIntegrity(tarball),
      spec: tarball,
      license: 'MIT',
      licenseFile: 'LICENSE',
      layout: 'browserify-bundle',
      modelDir: 'dist/models/tiny',
      modelFile: 'model.min.js',
      manifest: {
        name: 'tiny',
        task: 'CLASSIFICATION',
        labels: ['a', 'b', 'c', 'd', 'e'],
        input: { width: 2, height: 2, channels: 3, fit: 'fill', channelOrder: 'rgb', mean: [0, 0, 0], std: [255, 255, 255] },
        output: { activation: 'softmax' },
      },
    },
  ];
  return { root, dest: join(root, 'models'), cache: join(root, 'cache'), weights, catalog };
}

async function assertCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isEdgewatchError(err), `expected an EdgewatchError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

test('pulls a model from a browserify-bundle tarball into a verified, loadable folder', async (t) => {
  const f = await makeFixture(t);
  const [pulled] = await pullModels(['tiny'], { destDir: f.dest, cacheDir: f.cache, catalog: f.catalog });
  assert.ok(pulled);
  assert.equal(pulled.status, 'pulled');
  const dir = join(f.dest, 'tiny');
  assert.deepEqual((await readdir(dir)).sort(), ['LICENSE', 'SOURCE.txt', 'edgewatch.json', 'group1-shard1of2.bin', 'group1-shard2of2.bin', 'model.json']);

  const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { format: string; weightsManifest: Array<{ paths: string[] }> };
  assert.equal(modelJson.format, 'layers-model');
  assert.deepEqual(modelJson.weightsManifest[0]!.paths, ['group1-shard1of2.bin', 'group1-shard2of2.bin']);
  const shards = Buffer.concat([await readFile(join(dir, 'group1-shard1of2.bin')), await readFile(join(dir, 'group1-shard2of2.bin'))]);
  assert.ok(shards.equals(f.weights));
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'edgewatch.json'), 'utf8')), f.catalog[0]!.manifest);
  assert.match(await readFile(join(dir, 'LICENSE'), 'utf8'), /MIT License/);

  const source = await readFile(join(dir, 'SOURCE.txt'), 'utf8');
  assert.match(source, /^package: fake-models$/m);
  assert.match(source, new RegExp(`^integrity: ${f.catalog[0]!.integrity.replace(/[+/=]/g, '\\$&')}$`, 'm'));
  const shardHash = createHash('sha256').update(await readFile(join(dir, 'group1-shard2of2.bin'))).digest('hex');
  assert.match(source, new RegExp(`^${shardHash}  group1-shard2of2\\.bin$`, 'm'));
  assert.equal((await verifyPulledModel(dir))?.length, 5);
  assert.equal(pulled.totalBytes, pulled.files.reduce((s, x) => s + x.bytes, 0));

  // The folder is an ordinary TF.js layers model: TF.js's own loader reads it.
  await tf.setBackend('cpu');
  const model = await loadLayersModel({
    load: async () =>
      tf.io.getModelArtifactsForJSON(JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON, async (groups) => {
        const bytes = Buffer.concat(await Promise.all(groups.flatMap((g) => g.paths.map((p) => readFile(join(dir, p))))));
        return [groups.flatMap((g) => g.weights), bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)];
      }),
  });
  const kernel = model.getWeights()[0]!;
  assert.deepEqual(kernel.shape, KERNEL_SHAPE);
  assert.ok(Math.abs((await kernel.data())[1]! - 0.1) < 1e-6);
  model.dispose();
});

test('a complete model is skipped on re-run, rewritten with force, and re-pulled when tampered', async (t) => {
  const f = await makeFixture(t);
  const opts = { destDir: f.dest, cacheDir: f.cache, catalog: f.catalog };
  await pullModels(['tiny'], opts);
  assert.equal((await pullModels(['tiny'], opts))[0]!.status, 'skipped');
  assert.equal((await pullModels(['tiny'], { ...opts, force: true }))[0]!.status, 'pulled');

  // A catalogue whose manifest changed (a newer edgewatch) rewrites the folder.
  const changed = [{ ...f.catalog[0]!, manifest: { ...f.catalog[0]!.manifest, labels: ['v', 'w', 'x', 'y', 'z'] } }];
  assert.equal((await pullModels(['tiny'], { ...opts, catalog: changed }))[0]!.status, 'pulled');
  assert.equal((await pullModels(['tiny'], { ...opts, catalog: changed }))[0]!.status, 'skipped');

  await writeFile(join(f.dest, 'tiny', 'group1-shard1of2.bin'), Buffer.alloc(200));
  assert.equal(await verifyPulledModel(join(f.dest, 'tiny')), null);
  assert.equal((await pullModels(['tiny'], opts))[0]!.status, 'pulled');
  assert.ok(await verifyPulledModel(join(f.dest, 'tiny')));
  assert.deepEqual((await readdir(f.dest)).filter((e) => e.startsWith('.tiny')), []);
});

test('an interrupted pull (partial folder and half-written model left behind) is completed by a re-run', async (t) => {
  const f = await makeFixture(t);
  // A process that has exited: what it left behind is stale. A live one's (our parent's) is not.
  const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
  await mkdir(join(f.dest, `.tiny.partial-${deadPid}-deadbeef`), { recursive: true });
  await writeFile(join(f.dest, `.tiny.partial-${deadPid}-deadbeef`, 'model.json'), '{');
  await mkdir(join(f.dest, `.tiny.old-${deadPid}-deadbeef`), { recursive: true });
  await mkdir(join(f.dest, `.tiny.partial-${process.ppid}-cafe`), { recursive: true });
  await mkdir(join(f.cache, `extract-tiny-${deadPid}-x`), { recursive: true });
  await mkdir(join(f.dest, 'tiny'), { recursive: true });
  await writeFile(join(f.dest, 'tiny', 'model.json'), '{"half":');
  const [pulled] = await pullModels(['tiny'], { destDir: f.dest, cacheDir: f.cache, catalog: f.catalog });
  assert.equal(pulled!.status, 'pulled');
  assert.ok(await verifyPulledModel(join(f.dest, 'tiny')));
  assert.deepEqual((await readdir(f.dest)).filter((e) => e.startsWith('.tiny')), [`.tiny.partial-${process.ppid}-cafe`]);
  assert.deepEqual((await readdir(f.cache)).filter((e) => e.startsWith('extract-')), []);
});

test('a shard shorter than the weights manifest says fails with EW_PULL_VERIFY and writes nothing', async (t) => {
  const f = await makeFixture(t, bundle(`n.exports="${Buffer.alloc(40).toString('base64')}"`));
  await assertCode(pullModels(['tiny'], { destDir: f.dest, cacheDir: f.cache, catalog: f.catalog }), 'EW_PULL_VERIFY');
  assert.deepEqual(await readdir(f.dest), []);
});

test('a shard that is not base64 fails with EW_PULL_VERIFY', async (t) => {
  const f = await makeFixture(t, bundle('n.exports="not base64!"'));
  await assertCode(pullModels(['tiny'], { destDir: f.dest, cacheDir: f.cache, catalog: f.catalog }), 'EW_PULL_VERIFY');
});

test('a bundle holding code instead of data fails with EW_PULL_FAILED and is never run', async (t) => {
  const f = await makeFixture(t, bundle('n.exports=require("child_process").execSync("touch pwned")'));
  await assertCode(pullModels(['tiny'], { destDir: f.dest, cacheDir: f.cache, catalog: f.catalog }), 'EW_PULL_FAILED');
  const g = await makeFixture(t, bundle('n.exports="QUJD";n.exports=globalThis'));
  await assertCode(pullModels(['tiny'], { destDir: g.dest, cacheDir: g.cache, catalog: g.catalog }), 'EW_PULL_FAILED');
});

test('a tarball whose integrity differs from the catalogue fails with EW_PULL_VERIFY', async (t) => {
  const f = await makeFixture(t);
  const catalog = [{ ...f.catalog[0]!, integrity: `sha512-${Buffer.alloc(64).toString('base64')}` }];
  await assertCode(pullModels(['tiny'], { destDir: f.dest, cacheDir: f.cache, catalog }), 'EW_PULL_VERIFY');
});

test('a missing package fails with EW_PULL_FAILED, an unknown model name with EW_USAGE', async (t) => {
  const f = await makeFixture(t);
  const catalog = [{ ...f.catalog[0]!, spec: join(f.root, 'missing.tgz') }];
  await assertCode(pullModels(['tiny'], { destDir: f.dest, cacheDir: f.cache, catalog }), 'EW_PULL_FAILED');
  await assertCode(pullModels(['nope'], { destDir: f.dest, cacheDir: f.cache, catalog: f.catalog }), 'EW_USAGE');
});

test('parseJsLiteral reads minified data literals and refuses code', () => {
  const src = `{a:!0,b:!1,"c d":[.5,-.25,1e-3,-1/0],e:'it\\'s',f:null,g:void 0,h:{},i:[]}`;
  assert.deepEqual(parseJsLiteral(src).value, { a: true, b: false, 'c d': [0.5, -0.25, 0.001, -Infinity], e: "it's", f: null, g: null, h: {}, i: [] });
  const proto = parseJsLiteral('{__proto__:{polluted:1}}').value as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
  for (const bad of ['{a:b}', '[1,]', 'foo()', '{a:1', '"open', '!2']) {
    assert.throws(() => parseJsLiteral(bad), (err: unknown) => isEdgewatchError(err, 'EW_PULL_FAILED'), bad);
  }
});
