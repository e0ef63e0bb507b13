/** `edgewatch run --once` end to end: real images, real inference on the demo models, a strict Picsellia-protocol server. */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { startFakePicsellia, type FakePicsellia } from '../helpers/fake-picsellia.js';
import { BAD_IMAGES, tempDir, writeJpeg, writePng, writeWebp } from '../helpers/images.js';
import { runCli } from '../helpers/cli.js';

const MODELS = new URL('../../models/', import.meta.url).pathname;

function args(fake: FakePicsellia, inbox: string, stateDir: string, extra: string[] = []): string[] {
  return [
    'run', '--once', '--watch', inbox,
    '--champion', join(MODELS, 'demo-champion'), '--shadow', join(MODELS, 'demo-shadow'),
    '--host', fake.url, '--organization', fake.state.organization.name, '--deployment', fake.state.deployment.name,
    '--state-dir', stateDir, '--stable-ms', '20', '--retry-base-ms', '5', '--retry-max-ms', '20', '--log-format', 'json', ...extra,
  ];
}

test('run --once: one faithful request per image, bad files rejected with their reason, exit 0, and nothing twice on a re-run', async (t) => {
  const dir = await tempDir(t);
  const inbox = join(dir, 'inbox');
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  const { mkdir } = await import('node:fs/promises');
  await mkdir(inbox);
  const landscape = await writeJpeg(inbox, 'landscape.jpg', { width: 640, height: 480 });
  await writePng(inbox, 'diagram.png', { width: 320, height: 200 });
  await writeWebp(inbox, 'frame.webp', { width: 300, height: 150 });
  // Stored 400×240 with EXIF orientation 6: displayed as 240×400 portrait.
  await writeFile(join(inbox, 'portrait.jpg'), await sharp(await readFile(landscape)).resize(400, 240).jpeg().withMetadata({ orientation: 6 }).toBuffer());
  const bad = [];
  for (const b of BAD_IMAGES.filter((x) => x.code !== 'EW_WATCH_VANISHED' && x.code !== 'EW_IMAGE_UNREADABLE')) bad.push({ ...b, path: await b.make(inbox) });

  const run = await runCli(args(fake, inbox, join(dir, 'state')), { PICSELLIA_API_TOKEN: fake.apiToken });
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /4 monitored, 0 already monitored, 8 rejected, 0 failed/);
  assert.deepEqual(fake.violations, []);
  assert.equal(fake.predictions.length, 4);
  assert.ok(!run.out.includes(fake.apiToken) && !run.err.includes(fake.apiToken), 'the token never appears in output');

  const byName = new Map(fake.predictions.map((p) => [p.body.filename as string, p]));
  const expected: Record<string, [number, number, string]> = {
    'landscape.jpg': [640, 480, 'IMAGE/JPEG'],
    'diagram.png': [320, 200, 'IMAGE/PNG'],
    'frame.jpg': [300, 150, 'IMAGE/JPEG'],
    'portrait.jpg': [240, 400, 'IMAGE/JPEG'],
  };
  for (const [name, [width, height, type]] of Object.entries(expected)) {
    const p = byName.get(name);
    assert.ok(p, `${name} monitored`);
    const body = p.body as Record<string, any>;
    assert.equal(body.width, width, `${name} width`);
    assert.equal(body.height, height, `${name} height`);
    assert.equal(body.content_type, type);
    // The shadow's prediction is in the request, or (when the shadow was behind) followed as a late shadow.
    const shadow = (body.shadow_raw_predictions ?? p.lateShadow?.shadow_raw_predictions) as Record<string, any>;
    const shadowLatency = (body.shadow_latency ?? p.lateShadow?.shadow_latency) as number;
    for (const prediction of [body.raw_predictions, shadow]) {
      assert.equal(prediction.detection_texts, null);
      assert.equal(prediction.detection_classes.length, 1);
      assert.ok(Number.isInteger(prediction.detection_classes[0]));
    }
    assert.ok(body.latency > 0 && body.latency < 60 && shadowLatency > 0, 'latencies in seconds');
    assert.equal(typeof body.timestamp, 'number');
    assert.equal(body.source, 'edgewatch');
    const meta = body.custom_metadata.edgewatch;
    assert.equal(meta.champion.name, 'demo-champion');
    assert.equal(meta.shadow.name, 'demo-shadow');
    assert.match(meta.champion.hash, /^[0-9a-f]{64}$/);
    assert.equal(meta.backend, 'wasm');
    assert.equal(typeof meta.capturedAt, 'number');
    if (name !== 'frame.jpg') assert.deepEqual(p.image, await readFile(join(inbox, name)), `${name}: the file's own bytes are sent`);
    else assert.deepEqual((await sharp(p.image).metadata()).format, 'jpeg', 'WebP converted to JPEG');
  }
  const rejected = await readdir(join(inbox, 'rejected'));
  for (const b of bad) {
    const name = b.path.split('/').pop() as string;
    assert.ok(rejected.includes(name), `${b.kind} moved to rejected/`);
    const reason = JSON.parse(await readFile(join(inbox, 'rejected', `${name}.reason.json`), 'utf8'));
    assert.equal(reason.code, b.code, `${b.kind} reason code`);
  }

  const again = await runCli(args(fake, inbox, join(dir, 'state')), { PICSELLIA_API_TOKEN: fake.apiToken });
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /0 monitored/);
  assert.equal(fake.predictions.length, 4, 'nothing sent twice');
});

test('run --once: 401 once, 503 twice and 409 still deliver everything; a 422 is dead-lettered, does not block the rest, and exits 1', async (t) => {
  const dir = await tempDir(t);
  const fake = await startFakePicsellia();
  t.after(() => fake.close());
  for (let i = 0; i < 5; i++) await writeJpeg(dir, `img-${i}.jpg`, { width: 200 + i * 10, height: 120 });
  fake.script('predictions', { status: 401, body: { message: 'jwt expired' } }, { status: 503 }, { status: 503, headers: { 'retry-after': '0' } }, { status: 409, body: { message: 'already there' } }, { status: 422, body: { message: 'height: bad' } });
  const run = await runCli(args(fake, dir, join(dir, '.state'), ['--concurrency', '1', '--send-concurrency', '1']), { EDGEWATCH_API_TOKEN: fake.apiToken });
  assert.deepEqual(fake.violations, []);
  assert.equal(run.code, 1, run.err);
  assert.match(run.out, /3 monitored, 1 already monitored, 0 rejected, 1 failed, 0 skipped, 0 pending/);
  assert.equal(fake.requestsOf('login').length, 2, 'one re-login after the 401');
  const list = await runCli(['outbox', 'list', '--state-dir', join(dir, '.state')]);
  assert.equal(list.code, 0);
  assert.match(list.out, /queued 0, delivered 4, dead 1/);
  assert.match(list.out, /422 EW_MONITOR_REJECTED .*height: bad/);
  const retry = await runCli(['outbox', 'retry', '--state-dir', join(dir, '.state')]);
  assert.match(retry.out, /1 dead letter/);
  const rerun = await runCli(args(fake, dir, join(dir, '.state')), { EDGEWATCH_API_TOKEN: fake.apiToken });
  assert.equal(rerun.code, 0, rerun.err);
  assert.equal(fake.predictions.length, 4, 'the replayed dead letter is now stored');
});

test('start-up problems exit 2 with a clear message: type mismatch, bad model folder, missing folder, missing token', async (t) => {
  const dir = await tempDir(t);
  const fake = await startFakePicsellia({ deployment: { type: 'OBJECT_DETECTION' } });
  t.after(() => fake.close());
  const env = { PICSELLIA_API_TOKEN: fake.apiToken };
  const mismatch = await runCli(args(fake, dir, join(dir, 's1')), env);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.err, /EW_MONITOR_TYPE_MISMATCH/);
  fake.state.deployment.type = 'CLASSIFICATION';
  const badModel = await runCli(args(fake, dir, join(dir, 's2'), ['--champion', dir]), env);
  assert.equal(badModel.code, 2);
  assert.match(badModel.err, /EW_MODEL_(LOAD|MANIFEST): .*edgewatch.json/);
  const noFolder = await runCli(args(fake, join(dir, 'nope'), join(dir, 's3')), env);
  assert.equal(noFolder.code, 2);
  assert.match(noFolder.err, /EW_WATCH_FOLDER/);
  const noToken = await runCli(args(fake, dir, join(dir, 's4')));
  assert.equal(noToken.code, 2);
  assert.match(noToken.err, /apiToken \(--api-token, EDGEWATCH_API_TOKEN\): is required/);
  const wrongToken = await runCli(args(fake, dir, join(dir, 's5')), { PICSELLIA_API_TOKEN: 'not-the-token' });
  assert.equal(wrongToken.code, 2);
  assert.match(wrongToken.err, /EW_MONITOR_AUTH/);
  assert.ok(!wrongToken.err.includes('not-the-token'));
});
