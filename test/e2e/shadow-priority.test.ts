/** The shadow never holds the champion back: a slow shadow's predictions follow as late shadows, survive a restart, and are shed beyond the lag bound. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Agent } from '../../src/agent.js';
import { runCli } from '../helpers/cli.js';
import type { FakePicsellia } from '../helpers/fake-picsellia.js';
import { DEMO_CHAMPION } from '../helpers/models.js';
import { setUpSlowShadow } from '../helpers/slow-shadow.js';

/** Images whose prediction has a shadow, in the request or through the late-shadow call. */
const withShadow = (fake: FakePicsellia) => fake.predictions.filter((p) => 'shadow_raw_predictions' in p.body || p.lateShadow !== null);

test('a slow shadow: champion predictions go out at once, the shadow follows as late shadows, every image ends with both', async (t) => {
  const n = 6;
  const { fake, config } = await setUpSlowShadow(t, n);
  const agent = await Agent.start(config());
  t.after(() => agent.close());
  const summary = await agent.runOnce();
  assert.deepEqual(fake.violations, []);
  assert.equal(fake.predictions.length, n);
  assert.equal(withShadow(fake).length, n, 'every image has its shadow prediction in the end');
  const late = fake.predictions.filter((p) => p.lateShadow !== null);
  assert.ok(late.length >= 1, 'at least one shadow was behind (6 slow shadow jobs queue on two hosts)');
  assert.equal(summary.shadowDeferred, late.length);
  assert.equal(summary.shadowLate, late.length);
  assert.equal(summary.shadowShed, 0);
  assert.equal(summary.monitored, n);
  // The champion did not wait: each deferred image's prediction reached the service before its shadow did.
  const order = fake.requests.filter((r) => r.kind === 'predictions' || r.kind === 'shadow').map((r) => r.kind);
  assert.equal(order.filter((k) => k === 'shadow').length, late.length);
  assert.equal(order.indexOf('shadow') > order.indexOf('predictions'), true);
  t.diagnostic(`slow shadow: ${n} images, ${n - late.length} in one request, ${late.length} champion-first with a late shadow, 0 shed`);
});

test('a late shadow answered 409 (already there) counts as delivered, nothing is dead-lettered', async (t) => {
  const { fake, config } = await setUpSlowShadow(t, 4);
  fake.script('shadow', { status: 409, body: { message: 'Shadow prediction already processed' } });
  const agent = await Agent.start(config());
  t.after(() => agent.close());
  const summary = await agent.runOnce();
  assert.ok(summary.shadowDeferred >= 1);
  assert.equal(summary.shadowLate, summary.shadowDeferred, 'the 409 is one of the late shadows acknowledged');
  assert.equal(summary.dead, 0);
  assert.equal(summary.pending, 0);
});

test('deferred shadow work survives a restart: the next run reads the images again and sends their late shadows', async (t) => {
  const n = 6;
  const { fake, config, stateDb } = await setUpSlowShadow(t, n);
  const first = await Agent.start(config({ once: false }));
  await fake.waitFor(() => fake.predictions.length === n, 60_000);
  await first.close();
  const pendingAfterStop = new Database(stateDb, { readonly: true });
  const left = (pendingAfterStop.prepare('SELECT COUNT(*) AS n FROM shadow_pending').get() as { n: number }).n;
  pendingAfterStop.close();
  const sentBefore = withShadow(fake).length;
  assert.ok(left >= 1, `some shadow work was still pending at the stop (${left})`);
  assert.equal(sentBefore + left, n, 'what was not sent is recorded');

  const second = await Agent.start(config());
  t.after(() => second.close());
  const summary = await second.runOnce();
  assert.equal(summary.shadowLate, left, 'the next run sent the late shadows it found pending');
  assert.equal(withShadow(fake).length, n);
  assert.equal(fake.predictions.length, n, 'no champion prediction sent twice');
  assert.deepEqual(fake.violations, []);
  t.diagnostic(`restart: ${left} of ${n} shadows pending at the stop, all sent late by the next run`);
});

test('beyond --shadow-max-lag the shadow work is shed, never the champion: counts on the --once line', async (t) => {
  const n = 6;
  const { fake, inbox, dir, slowShadow } = await setUpSlowShadow(t, n);
  const run = await runCli(
    [
      'run', '--once', '--watch', inbox, '--champion', DEMO_CHAMPION, '--shadow', slowShadow, '--workers', '2', '--shadow-max-lag', '1',
      '--host', fake.url, '--organization', fake.state.organization.name, '--deployment', fake.state.deployment.name,
      '--state-dir', join(dir, 'state'), '--stable-ms', '20', '--log-format', 'json',
    ],
    { PICSELLIA_API_TOKEN: fake.apiToken },
  );
  assert.equal(run.code, 0, run.err);
  const m = /shadow: (\d+) deferred, (\d+) sent late, (\d+) shed/.exec(run.out);
  assert.ok(m, run.out);
  const [deferred, late, shed] = [Number(m[1]), Number(m[2]), Number(m[3])];
  assert.ok(shed >= 1, 'at most one image may wait for its shadow: the others are shed');
  assert.equal(late, deferred);
  assert.equal(fake.predictions.length, n, 'every champion prediction went out');
  assert.equal(withShadow(fake).length, n - shed);
  assert.match(run.err, /EW_SHADOW_LAG/);
  t.diagnostic(`max lag 1: ${n} champion predictions, ${deferred} deferred, ${late} late, ${shed} shed`);
});

test('a champion prediction dead-lettered while its shadow runs: the late shadow is shed, not left unsendable', async (t) => {
  const n = 4;
  const { fake, config } = await setUpSlowShadow(t, n);
  fake.script('predictions', ...Array.from({ length: n }, () => ({ status: 422, body: { message: 'refused by the test' } })));
  const agent = await Agent.start(config());
  t.after(() => agent.close());
  const summary = await agent.runOnce();
  assert.equal(summary.dead, n);
  assert.ok(summary.shadowDeferred >= 1, 'the slow shadow was behind');
  assert.equal(summary.shadowLate, 0);
  assert.equal(summary.shadowShed, summary.shadowDeferred, 'every deferred shadow was shed');
  assert.equal(summary.pending, 0, 'nothing left in the outbox');
  assert.equal(fake.requestsOf('shadow').length, 0);
});
