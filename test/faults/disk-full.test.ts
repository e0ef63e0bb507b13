/**
 * Fault test "disk full": the agent's state folder is on a small tmpfs that fills up while images
 * arrive. The agent logs EW_DISK_FULL once, keeps running, takes no file meanwhile (they wait in
 * their folder), and once space is freed every image is delivered, once, with nothing counted as
 * failed. Needs to mount a tmpfs (root); skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fillUp, withTmpfs } from '../helpers/tmpfs.js';
import { agentArgs, distinctJpegs, dropImage, startAgent, startService, tempFolder, waitUntil } from '../helpers/service.js';

const IMAGES = 12;

test('disk full: the agent waits with EW_DISK_FULL logged once, loses nothing, and delivers everything once space is back', { timeout: 120_000 }, async (t) => {
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  const staging = join(dir, 'staging');
  const stateDir = join(dir, 'state');
  for (const d of [inbox, staging, stateDir]) await mkdir(d);
  await withTmpfs(t, stateDir, '4m', () => exercise(t, { inbox, staging, stateDir }));
});

async function exercise(t: TestContext, { inbox, staging, stateDir }: { inbox: string; staging: string; stateDir: string }): Promise<void> {

  const service = await startService(t);
  const images = await distinctJpegs(IMAGES, { width: 96, height: 96 });
  const { agent, logs } = await startAgent(t, agentArgs({ host: service.url, inbox, stateDir }, ['--send-concurrency', '1', '--log-level', 'info']), { PICSELLIA_API_TOKEN: service.token });

  const filler = join(stateDir, 'filler');
  await fillUp(filler);
  for (let i = 0; i < IMAGES; i += 1) {
    const name = `img-${String(i).padStart(3, '0')}.jpg`;
    await dropImage({ inbox, staging }, name, images[i] as Buffer);
  }
  await waitUntil(() => logs.some((l) => l.code === 'EW_DISK_FULL'), 30_000, 'EW_DISK_FULL in the log');
  const storedWhileFull = service.count();
  assert.ok(storedWhileFull < IMAGES, `not everything got through a full disk (${storedWhileFull} stored)`);

  await rm(filler);
  await waitUntil(() => service.count() === IMAGES && agent.summary().pending === 0, 60_000, 'every image delivered once space is back', () => `${service.count()} stored, ${JSON.stringify(agent.summary())}`);
  const summary = agent.summary();
  await agent.close();

  const rows = service.predictions();
  assert.equal(rows.length, IMAGES, 'none lost');
  assert.equal(new Set(rows.map((r) => r.filename)).size, IMAGES, 'none twice');
  assert.equal(summary.failed, 0, 'a full disk is waited out, not counted as failed');
  assert.equal(summary.rejected, 0);
  const fullLines = logs.filter((l) => l.code === 'EW_DISK_FULL' && l.level === 50 && typeof l.msg === 'string' && l.msg.includes('New files wait'));
  assert.equal(fullLines.length, 1, 'logged once per episode by the pipeline');
  assert.match(String(fullLines[0]?.msg), /disk is full/i);
  t.diagnostic(`disk full: ${IMAGES} images, ${storedWhileFull} stored while the state disk was full, ${rows.length} stored after space was freed, 0 failed, 0 twice`);
}
