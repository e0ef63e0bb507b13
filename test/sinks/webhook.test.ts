/** Webhook sink end to end: every champion prediction POSTed with its image id, retried after a 503; a dead or refusing webhook leaves monitoring untouched. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { SinkRecord } from '../../src/sinks/record.js';
import { runCli } from '../helpers/cli.js';
import { agentArgs, inboxOfJpegs, startAgent, startService, stateDbQuery, waitUntil } from '../helpers/service.js';
import { rawOf, storedByImageId } from './stored.js';

interface Received {
  key: string | undefined;
  record: SinkRecord;
}

/** An HTTP server on 127.0.0.1:0 answering each POST with `statusFor(n)` (n counts from 0); closed at the end. */
async function webhook(t: TestContext, statusFor: (n: number) => number): Promise<{ url: string; received: Received[]; requests: () => number }> {
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statusFor(n);
      n += 1;
      if (status >= 200 && status < 300) received.push({ key: req.headers['idempotency-key'] as string | undefined, record: JSON.parse(Buffer.concat(chunks).toString('utf8')) as SinkRecord });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=s3cret`, received, requests: () => n };
}

test('webhook: each champion prediction POSTed once acknowledged, Idempotency-Key = image id, a 503 retried', async (t) => {
  const service = await startService(t);
  const hook = await webhook(t, (n) => (n === 0 ? 503 : 201));
  const { dir, inbox } = await inboxOfJpegs(t, 5);
  const { agent, logs } = await startAgent(t, agentArgs({ host: service.url, inbox, stateDir: join(dir, 'state') }, ['--once', '--sink-webhook', hook.url]), {
    PICSELLIA_API_TOKEN: service.token,
  });
  const summary = await agent.runOnce();
  assert.equal(summary.monitored, 5);
  // --once waits for what can be delivered now: the 503's record may still wait for its retry.
  await waitUntil(() => agent.sinks?.status().webhook?.pending === 0, 20_000, 'the webhook queue to empty');
  // A shadow that fell behind adds a follow-up record (README "Result sinks"), keyed `<image id>:shadow`.
  const followUps = hook.received.filter((r) => (r.record as { schema: string }).schema === 'edgewatch.late-shadow/1');
  assert.equal(followUps.length, summary.shadowLate);
  for (const { key, record } of followUps) assert.equal(key, `${record.imageId}:shadow`);
  const images = hook.received.filter((r) => r.record.schema === 'edgewatch.prediction/1');
  assert.equal(hook.requests(), 6 + followUps.length, 'five records (and the follow-ups), one of them twice (after the 503)');
  const stored = storedByImageId(service.dataDir);
  assert.deepEqual(new Set(images.map((r) => r.record.imageId)), new Set(stored.keys()), 'exactly the monitored images');
  assert.equal(images.length, 5);
  for (const { key, record } of images) {
    assert.equal(key, record.imageId);
    const s = stored.get(record.imageId);
    assert.ok(s);
    assert.deepEqual(rawOf(record), { classes: s.champion.detection_classes, scores: s.champion.detection_scores });
  }
  const warning = logs.find((l) => l.code === 'EW_SINK_HTTP');
  assert.ok(warning, 'the failure is logged with its code');
  assert.ok(!JSON.stringify(logs).includes('s3cret'), 'the URL query (a token) is never logged');
});

test('a dead webhook (connection refused) and a refusing one (400) leave monitoring untouched; refused records are dead letters, unreachable ones wait', async (t) => {
  const service = await startService(t);
  const refusing = await webhook(t, () => 400);
  const closedPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  let refused = 0;
  for (const [i, url] of [`http://127.0.0.1:${closedPort}/hook`, refusing.url].entries()) {
    const { dir, inbox } = await inboxOfJpegs(t, 4, { offset: 100 * (i + 1) });
    const stateDir = join(dir, 'state');
    const before = service.count();
    const { agent } = await startAgent(t, agentArgs({ host: service.url, inbox, stateDir }, ['--once', '--sink-webhook', url, '--sink-max-attempts', '3']), {
      PICSELLIA_API_TOKEN: service.token,
    });
    const summary = await agent.runOnce();
    assert.equal(summary.monitored, 4, url);
    assert.equal(summary.pending, 0, url);
    // Four records, and a follow-up for each shadow that came late (README "Result sinks").
    const records = 4 + summary.shadowLate;
    assert.equal(service.count(), before + 4, 'every prediction stored by the monitoring service');
    const unreachable = i === 0;
    if (unreachable) {
      // Down, not refusing: the records wait (the backlog bound applies), however many rounds fail.
      await waitUntil(() => (agent.sinks?.loops[0]?.stats.retries ?? 0) >= 8, 20_000, '8 webhook retries');
      assert.deepEqual(agent.sinks?.status().webhook, { pending: records, dead: 0, delivered: 0, dropped: 0 });
    } else {
      await waitUntil(() => agent.sinks?.status().webhook?.dead === records, 20_000, 'every record dead-lettered');
      refused = records;
    }
    await agent.close();
    const pending = stateDbQuery(stateDir, (db) => db.prepare("SELECT attempts, last_error FROM sink_pending WHERE sink = 'webhook' ORDER BY id").all() as { attempts: number; last_error: string | null }[]);
    const dead = stateDbQuery(stateDir, (db) => db.prepare("SELECT code, attempts, message FROM sink_dead WHERE sink = 'webhook'").all() as { code: string; attempts: number; message: string }[]);
    if (unreachable) {
      assert.equal(pending.length, records);
      for (const p of pending) assert.equal(p.attempts, 0, 'an unreachable endpoint uses up no attempt');
      // While it is down only the oldest record is tried each round; the others wait untried.
      assert.deepEqual(pending.map((p) => /ECONNREFUSED/.test(p.last_error ?? '')), [true, ...Array<boolean>(records - 1).fill(false)]);
    } else {
      assert.equal(pending.length, 0);
      assert.equal(dead.length, records);
      for (const d of dead) {
        assert.equal(d.code, 'EW_SINK_HTTP');
        assert.equal(d.attempts, 1, 'a 400 is given up at once');
        assert.match(d.message, /answered 400/);
        assert.ok(!d.message.includes('s3cret'));
      }
      // Shown and replayed like the monitor's dead letters.
      const list = await runCli(['outbox', 'list', '--state-dir', stateDir]);
      assert.match(list.out, new RegExp(`^queued 0, delivered 4, dead 0[^\\n]*\\nsink webhook: queued 0, dead ${records}\\n`));
      assert.equal(list.out.match(/EW_SINK_HTTP {2}the webhook http:\/\/127\.0\.0\.1:\d+\/hook answered 400/g)?.length, records);
      assert.ok(!list.out.includes('s3cret'));
      assert.match((await runCli(['outbox', 'retry', '--state-dir', stateDir])).out, new RegExp(`${records} sink dead letter\\(s\\) moved back to their sink queues`));
      assert.match((await runCli(['outbox', 'list', '--state-dir', stateDir])).out, new RegExp(`sink webhook: queued ${records}, dead 0`));
      assert.match((await runCli(['outbox', 'purge', '--state-dir', stateDir])).out, /^0 dead letter\(s\) deleted\n$/);
    }
  }
  assert.equal(refusing.requests(), refused, 'a 400 is not retried');
});

test('stopping while the webhook hangs: the agent closes within its deadline and the record stays queued for the next run', { timeout: 60_000 }, async (t) => {
  const service = await startService(t);
  let received = 0;
  const hanging = createServer(() => {
    received += 1; // never answered
  });
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    hanging.closeAllConnections();
    return new Promise<void>((resolve) => hanging.close(() => resolve()));
  });
  const { dir, inbox } = await inboxOfJpegs(t, 1, { offset: 400 });
  const stateDir = join(dir, 'state');
  const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`;
  const { agent } = await startAgent(t, agentArgs({ host: service.url, inbox, stateDir }, ['--sink-webhook', url, '--request-timeout-ms', '600000', '--shutdown-timeout-ms', '500']), {
    PICSELLIA_API_TOKEN: service.token,
  });
  await waitUntil(() => service.count() === 1 && received === 1, 20_000, 'the prediction and the webhook request');
  // Without cutting the request, close() would wait for the 10-minute request timeout (and the test time out).
  await agent.close();
  assert.equal(stateDbQuery(stateDir, (db) => (db.prepare("SELECT COUNT(*) AS n FROM sink_pending WHERE sink = 'webhook'").get() as { n: number }).n), 1);
});
