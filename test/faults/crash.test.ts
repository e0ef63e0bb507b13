/**
 * Fault test "crash": the agent runs as a child process while 200 images arrive and is killed with
 * SIGKILL at random moments (during start-up, after some new files, after some new stored
 * predictions, and mid-send: after the service stored a prediction but before the agent heard the
 * answer), then restarted each time. In the end the service holds exactly 200 predictions, one per image.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnAgent, type AgentChild } from '../helpers/agent-child.js';
import { startFlakyProxy } from '../helpers/flaky-proxy.js';
import { agentArgs, distinctJpegs, seededRandom, startService, stateDbQuery, tempFolder, waitUntil } from '../helpers/service.js';

const IMAGES = 200;
const SEED = 20_240_604;

/** When to kill the current child. */
type Trigger = { kind: 'startup' } | { kind: 'files'; n: number } | { kind: 'stored'; n: number } | { kind: 'mid-send'; n: number };

test(`crash: SIGKILL at random moments while ${IMAGES} images arrive; the service ends with exactly one prediction per image`, { timeout: 150_000 }, async (t) => {
  const random = seededRandom(SEED);
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  const stateDir = join(dir, 'state');
  await mkdir(inbox);
  const service = await startService(t);
  const images = await distinctJpegs(IMAGES);

  // Mid-send kills: when armed, the n-th stored prediction's answer is lost and the agent killed at that instant.
  let current: AgentChild | undefined;
  let midSend: { left: number; fired: boolean } | undefined;
  const proxy = await startFlakyProxy(service.url, {
    onUpstreamResponse: (r, status) => {
      if (!midSend || midSend.fired || r.kind !== 'prediction' || status !== 201) return 'relay';
      midSend.left -= 1;
      if (midSend.left > 0) return 'relay';
      midSend.fired = true;
      current?.process.kill('SIGKILL');
      return 'drop';
    },
  });
  t.after(() => proxy.close());

  const triggers: Trigger[] = [
    { kind: 'startup' },
    { kind: 'files', n: between(10, 30) },
    { kind: 'mid-send', n: between(3, 15) },
    { kind: 'stored', n: between(10, 40) },
    { kind: 'files', n: between(10, 30) },
    { kind: 'mid-send', n: between(3, 15) },
    { kind: 'stored', n: between(5, 30) },
  ];

  // The writer: 200 distinct images, one at a time with random gaps, staying at most AHEAD images ahead of
  // what the service stored, so that files keep arriving through every kill and restart.
  const AHEAD = 40;
  let written = 0;
  let throttled = true;
  const writer = (async () => {
    for (let i = 0; i < IMAGES; i += 1) {
      await waitUntil(() => !throttled || written - service.count() < AHEAD, 120_000, 'the agent to catch up with the writer');
      await writeFile(join(inbox, `cam-${String(i).padStart(3, '0')}.jpg`), images[i] as Buffer);
      written += 1;
      await new Promise((r) => setTimeout(r, between(0, 40)));
    }
  })();

  const env = { PICSELLIA_API_TOKEN: service.token };
  const argv = agentArgs({ host: proxy.url, inbox, stateDir }, ['--concurrency', '2', '--send-concurrency', '2']);
  const children: AgentChild[] = [];
  t.after(async () => {
    await Promise.all(children.map((c) => c.kill()));
  });
  const kills: string[] = [];
  for (const trigger of triggers) {
    const child = spawnAgent(argv, env);
    children.push(child);
    current = child;
    const filesAtStart = written;
    const storedAtStart = service.count();
    if (trigger.kind === 'startup') {
      // During start-up: the models are loaded, the folder not yet watched, the outbox not yet drained.
      await child.waitForLog((l) => l.msg?.startsWith('models ready') === true, 60_000);
      child.process.kill('SIGKILL');
    } else if (trigger.kind === 'mid-send') {
      midSend = { left: trigger.n, fired: false };
      const armed = midSend;
      await waitUntil(() => armed.fired || service.count() >= IMAGES || child.done, 60_000, 'a mid-send kill');
      midSend = undefined;
      if (!armed.fired) child.process.kill('SIGKILL');
    } else {
      const reached = () => (trigger.kind === 'files' ? written - filesAtStart >= trigger.n : service.count() - storedAtStart >= trigger.n);
      // Once everything is stored, the trigger cannot fire any more: kill the idle agent instead.
      await waitUntil(() => reached() || service.count() >= IMAGES || child.done, 60_000, `${trigger.kind} trigger`);
      child.process.kill('SIGKILL');
    }
    const code = await child.exited;
    assert.equal(code, 137, `the agent was killed by SIGKILL (exit ${code}); stderr:\n${child.output.err.slice(-2000)}`);
    kills.push(`${trigger.kind}${'n' in trigger ? `(${trigger.n})` : ''} at ${written} written / ${service.count()} stored`);
  }

  // The rest of the images arrive while the agent is down; the last restart, with --once, sends what the
  // outbox holds, processes every file not yet processed and exits 0 with nothing pending.
  throttled = false;
  await writer;
  const drainStarted = Date.now();
  const last = spawnAgent([...argv, '--once'], env);
  children.push(last);
  assert.equal(await last.exited, 0, last.output.err.slice(-2000));
  const drainMs = Date.now() - drainStarted;
  assert.match(last.output.out, / 0 failed, 0 skipped, 0 pending/);

  const rows = service.predictions();
  const ids = new Set(rows.map((r) => r.imageId));
  assert.equal(rows.length, IMAGES, 'exactly one stored prediction per image');
  assert.equal(ids.size, IMAGES, 'no image twice');
  assert.ok(!ids.has(null), 'every prediction carries its image id');
  const names = new Set(rows.map((r) => r.filename));
  for (let i = 0; i < IMAGES; i += 1) assert.ok(names.has(`cam-${String(i).padStart(3, '0')}.jpg`), `image ${i} arrived`);
  const states = stateDbQuery(stateDir, (db) => db.prepare('SELECT state, COUNT(*) AS n FROM files GROUP BY state').all() as { state: string; n: number }[]);
  assert.deepEqual(states, [{ state: 'delivered', n: IMAGES }], 'the ledger holds every file as delivered');
  const dead = stateDbQuery(stateDir, (db) => (db.prepare('SELECT COUNT(*) AS n FROM dead_letter').get() as { n: number }).n);
  assert.equal(dead, 0);
  assert.ok(kills.length >= 5);
  const resent = proxy.stats.predictionStatuses[409] ?? 0;
  assert.ok(resent >= 1, 'the mid-send kills made at least one harmless re-send (409)');
  t.diagnostic(`crash: seed ${SEED}; ${kills.length} SIGKILLs: ${kills.join('; ')}`);
  t.diagnostic(
    `crash: ${IMAGES} images, ${rows.length} stored, ${rows.length - ids.size} duplicates, 0 lost; prediction requests answered 201: ${proxy.stats.predictionStatuses[201] ?? 0}, 409 (harmless re-sends): ${resent}; answers lost by mid-send kills: ${proxy.stats.droppedAfter}; drained ${drainMs} ms after the last restart`,
  );
});
