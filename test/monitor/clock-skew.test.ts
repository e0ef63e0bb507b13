/** The agent's clock: skew from the Date header at deployment resolution (EW_CLOCK_SKEW warning), and a 422 naming `timestamp` reported with the measured skew. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { humanDuration, measureSkew } from '../../src/monitor/clock-skew.js';
import { buildMonitorBody } from '../../src/monitor/monitor-body.js';
import { PicselliaClient } from '../../src/monitor/picsellia-client.js';
import { startFakePicsellia, type FakePicsellia } from '../helpers/fake-picsellia.js';
import { startService } from '../helpers/service.js';
import { clientFor, makeJpeg, sampleInput } from './sample-body.js';

const jpeg = await makeJpeg();

/** A logger that keeps every warn/info/debug call. */
function recordingLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, warn: at('warn'), info: at('info'), debug: at('debug') };
}

/** The fake's ping answered normally, but with a Date header `offsetS` seconds from now. */
function pingWithDate(fake: FakePicsellia, offsetS: number): void {
  fake.script('ping', {
    status: 200,
    body: { sdk_version: '6.28.1', username: 'edge', default_organization: fake.state.defaultOrganization },
    headers: { date: new Date(Date.now() + offsetS * 1000).toUTCString() },
  });
}

async function fakeWithClient(t: TestContext) {
  const fake = await startFakePicsellia();
  const logger = recordingLogger();
  const client = clientFor(fake, { logger });
  t.after(async () => {
    await client.close();
    await fake.close();
  });
  return { fake, client, logger };
}

const skewWarnings = (logger: ReturnType<typeof recordingLogger>) => logger.lines.filter((l) => l.obj.code === 'EW_CLOCK_SKEW');

test('measureSkew: local minus server, from the midpoint of the exchange, ± half the round trip and the header\'s second', () => {
  const server = Date.UTC(2026, 0, 1, 12, 0, 0);
  const skew = measureSkew(new Date(server).toUTCString(), server + 3_600_000, server + 3_600_200, 'ping');
  assert.ok(skew !== null);
  assert.equal(skew.skewS, 3_600 + 0.1 - 0.5);
  assert.equal(skew.uncertaintyS, 0.1 + 0.5);
  assert.equal(measureSkew(undefined, 0, 1, 'ping'), null);
  assert.equal(measureSkew('not a date', 0, 1, 'ping'), null);
  assert.deepEqual([humanDuration(45), humanDuration(-600), humanDuration(3 * 3600 + 720), humanDuration(3 * 86_400)], ['45 s', '10 min', '3 h 12 min', '3 days 0 h']);
});

test('resolve: a platform Date 3 hours ahead of this box logs EW_CLOCK_SKEW once, with the skew and what to do', async (t) => {
  const { fake, client, logger } = await fakeWithClient(t);
  pingWithDate(fake, 3 * 3600);
  await client.resolve();
  const warnings = skewWarnings(logger);
  assert.equal(warnings.length, 1);
  const [w] = warnings;
  assert.equal(w!.level, 'warn');
  assert.ok(Math.abs((w!.obj.skewS as number) + 3 * 3600) < 3, `skew ${String(w!.obj.skewS)}`);
  assert.equal(w!.obj.refusesAll, false);
  assert.match(w!.msg, /3 h 0 min behind the platform's/);
  assert.match(w!.msg, /NTP/);
  assert.equal(client.clockSkew !== null && Math.abs(client.clockSkew.skewS) < 3, true, 'the latest response (login) agrees with this clock');
  assert.ok(!w!.msg.includes(fake.apiToken));
});

test('resolve: a box whose clock is years ahead is told that every prediction will be refused', async (t) => {
  const { fake, client, logger } = await fakeWithClient(t);
  pingWithDate(fake, -30 * 365 * 86_400);
  await client.resolve();
  const [w] = skewWarnings(logger);
  assert.ok(w);
  assert.equal(w.obj.refusesAll, true);
  assert.match(w.msg, /years ahead of the platform's/);
  assert.match(w.msg, /refuses every prediction/);
});

test('resolve: a clock within the threshold logs nothing', async (t) => {
  const { fake, client, logger } = await fakeWithClient(t);
  pingWithDate(fake, 30);
  await client.resolve();
  assert.deepEqual(skewWarnings(logger), []);
  assert.ok(client.clockSkew !== null);
});

test('a 422 naming timestamp is rejected as EW_CLOCK_SKEW with the skew measured from that answer, logged', async (t) => {
  const { fake, client, logger } = await fakeWithClient(t);
  await client.resolve();
  fake.script('predictions', {
    status: 422,
    body: { message: 'Invalid prediction: timestamp must be epoch seconds from 946684800 (2000-01-01) to one day from now, got 3000', field: 'timestamp' },
    headers: { date: new Date(Date.now() + 50 * 365 * 86_400 * 1000).toUTCString() },
  });
  const outcome = await client.sendPrediction(buildMonitorBody(sampleInput(jpeg, 'clock-1')));
  assert.equal(outcome.kind, 'rejected');
  assert.equal(outcome.kind === 'rejected' && outcome.code, 'EW_CLOCK_SKEW');
  assert.equal(outcome.kind === 'rejected' && outcome.status, 422);
  assert.match(outcome.kind === 'rejected' ? outcome.message : '', /years behind the service's/);
  const [w] = skewWarnings(logger);
  assert.ok(w);
  assert.ok((w.obj.skewS as number) < -49 * 365 * 86_400);
});

test('a 422 about another field stays EW_MONITOR_REJECTED', async (t) => {
  const { fake, client } = await fakeWithClient(t);
  await client.resolve();
  fake.script('predictions', { status: 422, body: { message: 'Invalid prediction: width must be an integer', field: 'width' } });
  const outcome = await client.sendPrediction(buildMonitorBody(sampleInput(jpeg, 'clock-2')));
  assert.equal(outcome.kind === 'rejected' && outcome.code, 'EW_MONITOR_REJECTED');
});

test('the embedded service refusing a 1970 timestamp: EW_CLOCK_SKEW, saying the clock agrees now and why a resend cannot succeed', async (t) => {
  const service = await startService(t);
  const logger = recordingLogger();
  const client = new PicselliaClient({ host: service.url, apiToken: service.token, organization: 'edge', deployment: 'demo', requestTimeoutMs: 5_000, userAgent: 'edgewatch test', logger });
  t.after(() => client.close());
  await client.resolve();
  assert.deepEqual(skewWarnings(logger), [], 'the service and this box share a clock');
  const outcome = await client.sendPrediction(buildMonitorBody(sampleInput(jpeg, 'clock-3', { timestamp: 86_400 })));
  assert.equal(outcome.kind, 'rejected');
  if (outcome.kind !== 'rejected') return;
  assert.equal(outcome.status, 422);
  assert.equal(outcome.code, 'EW_CLOCK_SKEW');
  assert.match(outcome.message, /agrees with the service's/);
  assert.match(outcome.message, /dead-lettered/);
  assert.equal(skewWarnings(logger).length, 1);
  assert.equal(service.count(), 0);
});
