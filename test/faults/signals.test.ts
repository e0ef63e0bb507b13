/**
 * Fault test "signals": SIGTERM on an agent in watch mode stops it gracefully (exit 0) with a consistent
 * ledger and outbox, a second signal during that stop exits 130 at once, and the next start sends the rest.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnAgent } from '../helpers/agent-child.js';
import { runCli } from '../helpers/cli.js';
import { startFlakyProxy, type ProxyAction } from '../helpers/flaky-proxy.js';
import { agentArgs, distinctJpegs, startService, stateDbQuery, tempFolder, waitUntil } from '../helpers/service.js';

const FIRST = 30;
const LATER = 10;

/**
 * Every file in the ledger is queued with an outbox entry or delivered with a delivery record (or, after
 * a forced exit, `seen`: interrupted before its prediction was queued, processed again at the next start),
 * and the outbox holds nothing else.
 */
function assertConsistent(stateDir: string, allowSeen = false): { queued: number; delivered: number } {
  return stateDbQuery(stateDir, (db) => {
    const states = db.prepare("SELECT state, COUNT(*) AS n FROM files GROUP BY state ORDER BY state").all() as { state: string; n: number }[];
    for (const s of states) assert.ok(['queued', 'delivered', ...(allowSeen ? ['seen'] : [])].includes(s.state), `no file left in state ${s.state}: ${JSON.stringify(states)}`);
    const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    assert.equal(n("SELECT COUNT(*) AS n FROM files f WHERE f.state = 'queued' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.file_id = f.id)"), 0, 'every queued file has its outbox entry');
    assert.equal(n("SELECT COUNT(*) AS n FROM files f WHERE f.state = 'delivered' AND NOT EXISTS (SELECT 1 FROM delivered d WHERE d.file_id = f.id)"), 0, 'every delivered file has its delivery record');
    // A late shadow's entry may outlive its champion's delivery: its file is then 'delivered'.
    assert.equal(n("SELECT COUNT(*) AS n FROM outbox o JOIN files f ON f.id = o.file_id WHERE f.state != 'queued' AND o.parent_id IS NULL"), 0, 'the outbox holds only queued files');
    // Champions' predictions (late shadows, parent_id set, are counted apart by the agent).
    return { queued: n('SELECT COUNT(*) AS n FROM outbox WHERE parent_id IS NULL'), delivered: n('SELECT COUNT(*) AS n FROM delivered WHERE parent_id IS NULL') };
  });
}

test('signals: SIGTERM stops gracefully (exit 0, consistent outbox), a second signal exits 130, the next start sends the rest', { timeout: 120_000 }, async (t) => {
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  const stateDir = join(dir, 'state');
  await mkdir(inbox);
  const service = await startService(t);
  const images = await distinctJpegs(FIRST + LATER);
  for (let i = 0; i < FIRST; i += 1) await writeFile(join(inbox, `sig-${String(i).padStart(3, '0')}.jpg`), images[i] as Buffer);

  // The service answers the first 5 predictions, then holds every other one until `release()`.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  t.after(() => release());
  let answered = 0;
  const heldNames: string[] = [];
  const proxy = await startFlakyProxy(service.url, {
    decide: (r): ProxyAction => {
      if (r.kind !== 'prediction' || answered++ < 5) return 'forward';
      heldNames.push((JSON.parse(r.body.toString('utf8')) as { filename: string }).filename);
      return { hold: held };
    },
  });
  t.after(() => proxy.close());
  const env = { PICSELLIA_API_TOKEN: service.token };
  const argv = agentArgs({ host: proxy.url, inbox, stateDir }, ['--send-concurrency', '2', '--shutdown-timeout-ms', '1000']);

  // 1. SIGTERM while sends hang: exit 0, the stop line, a consistent state database.
  const first = spawnAgent(argv, env);
  t.after(() => first.kill());
  // A held prediction proves the agent runs (its signal handlers are installed once start-up is over).
  await waitUntil(() => proxy.stats.held >= 1 && service.count() >= 5, 60_000, 'sends under way', () => first.output.err.slice(-2000));
  assert.equal(await first.kill('SIGTERM'), 0, first.output.err.slice(-3000));
  assert.match(first.output.err, /SIGTERM: finishing in-flight images/);
  assert.match(first.output.out, /edgewatch: stopped; \d+ monitored, 0 rejected, 0 failed, \d+ pending in the outbox/);
  const stopped = first.logs.find((l) => l.msg === 'stopped');
  assert.ok(stopped, 'the stop line is logged');
  const afterFirst = assertConsistent(stateDir);
  assert.ok(afterFirst.queued > 0, 'some predictions were still queued at the stop');
  assert.equal(afterFirst.delivered, stopped.monitored);

  // 2. More images arrive while the agent is down; a second signal during the graceful stop exits 130 at once.
  for (let i = FIRST; i < FIRST + LATER; i += 1) await writeFile(join(inbox, `sig-${String(i).padStart(3, '0')}.jpg`), images[i] as Buffer);
  const second = spawnAgent(argv, env);
  t.after(() => second.kill());
  // Entries left in the outbox are sent during start-up (and held); a new image queued proves start-up is over.
  const newQueued = () =>
    stateDbQuery(stateDir, (db) => (db.prepare("SELECT COUNT(*) AS n FROM files WHERE state = 'queued' AND path LIKE ?").get(join(inbox, 'sig-03%')) as { n: number }).n);
  await waitUntil(() => newQueued() > 0 && heldNames.length > 0, 60_000, 'a new image queued', () => second.output.err.slice(-2000));
  second.process.kill('SIGTERM');
  await waitUntil(() => second.output.err.includes('finishing in-flight images'), 30_000, 'the first signal to be handled');
  second.process.kill('SIGTERM');
  assert.equal(await second.exited, 130, second.output.err.slice(-3000));
  assert.match(second.output.err, /second SIGTERM: exiting now/);
  const afterSecond = assertConsistent(stateDir, true);

  // 3. The held requests reach the service now (their answers are lost); the next start sends the rest.
  proxy.setDecide(() => 'forward');
  release();
  const rerun = await runCli([...argv, '--once', '--log-level', 'silent'], env);
  assert.equal(rerun.code, 0, rerun.err);
  assert.match(rerun.out, / 0 failed, 0 skipped, 0 pending/);
  await waitUntil(() => service.count() === FIRST + LATER, 10_000, 'every image stored');
  const rows = service.predictions();
  assert.equal(rows.length, FIRST + LATER);
  assert.equal(new Set(rows.map((r) => r.imageId)).size, FIRST + LATER, 'none twice');
  const final = assertConsistent(stateDir);
  assert.deepEqual(final, { queued: 0, delivered: FIRST + LATER });
  t.diagnostic(
    `signals: SIGTERM → exit 0 with ${afterFirst.delivered} delivered and ${afterFirst.queued} queued (consistent); second SIGTERM → exit 130 with ${afterSecond.queued} queued; ` +
      `next run: ${rows.length} stored of ${FIRST + LATER}, 0 duplicates, ${proxy.stats.predictionStatuses[409] ?? 0} answered 409 (held sends the service stored later)`,
  );
});

test('signals: SIGTERM during start-up (models still loading) stops cleanly with exit 0', { timeout: 60_000 }, async (t) => {
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const service = await startService(t);
  const child = spawnAgent(agentArgs({ host: service.url, inbox, stateDir: join(dir, 'state') }), { PICSELLIA_API_TOKEN: service.token });
  t.after(() => child.kill());
  await child.waitForLog((l) => l.msg === 'starting', 30_000);
  assert.equal(await child.kill('SIGTERM'), 0, child.output.err.slice(-2000));
  assert.ok(child.logs.some((l) => l.msg === 'stopped'), 'the stop line is logged');
});
