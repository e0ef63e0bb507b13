/**
 * Sinks across crashes: the agent child is killed with SIGKILL while a webhook is receiving a record
 * (before it is answered) and while the JSONL file is being written, and restarted each time. In the
 * end the service holds exactly one prediction per image and every image reached each sink at least
 * once (a sink record is committed with the image, and removed only once delivered).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnAgent, type AgentChild } from '../helpers/agent-child.js';
import { agentArgs, distinctJpegs, startService, stateDbQuery, tempFolder, waitUntil } from '../helpers/service.js';
import { jsonlRecords } from './stored.js';

const IMAGES = 60;

test(`sinks across SIGKILL: ${IMAGES} images, killed mid-webhook twice and mid-JSONL once; every image reaches each sink at least once, monitoring exactly once`, { timeout: 180_000 }, async (t) => {
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  const stateDir = join(dir, 'state');
  const jsonl = join(dir, 'out', 'predictions.jsonl');
  await mkdir(inbox);
  const service = await startService(t);

  let current: AgentChild | undefined;
  /** The webhook POST at which the child is killed before its answer (none once fired). */
  let killAt: number | undefined = 10;
  let posts = 0;
  const hooked = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts += 1;
      const id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { imageId: string }).imageId;
      hooked.add(id);
      if (killAt !== undefined && posts >= killAt) {
        killAt = undefined;
        // Received, but the agent dies before it hears so: the record must be delivered again.
        void current?.kill('SIGKILL').then(() => res.destroy());
        return;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  for (const [i, bytes] of (await distinctJpegs(IMAGES, { offset: 7000 })).entries()) await writeFile(join(inbox, `img-${String(i).padStart(3, '0')}.jpg`), bytes);
  const start = () => {
    current = spawnAgent(agentArgs({ host: service.url, inbox, stateDir }, ['--sink-webhook', hookUrl, '--sink-jsonl', jsonl]), { PICSELLIA_API_TOKEN: service.token });
    return current;
  };
  t.after(() => current?.kill());

  // 1. Killed while the webhook holds its 10th record.
  let child = start();
  assert.equal(await child.exited, 137);
  // 2. Killed once the JSONL file has 25 lines (mid-run, whatever is in flight).
  killAt = undefined;
  child = start();
  await waitUntil(async () => (await jsonlRecords(jsonl)).length >= 25 || child.done, 60_000, 'JSONL lines');
  await child.kill('SIGKILL');
  // 3. Killed at the next webhook record but five.
  killAt = posts + 5;
  child = start();
  await waitUntil(() => child.done || killAt === undefined, 60_000, 'the third kill');
  await child.exited;
  // 4. Runs to the end.
  child = start();
  const stored = () => service.count();
  await waitUntil(() => stored() === IMAGES && hooked.size === IMAGES, 90_000, 'every image monitored and posted', () => `${stored()} stored, ${hooked.size} posted`);
  await waitUntil(async () => new Set((await jsonlRecords(jsonl)).map((r) => r.imageId)).size === IMAGES, 30_000, 'every image in the JSONL file');
  await waitUntil(() => stateDbQuery(stateDir, (db) => (db.prepare('SELECT COUNT(*) AS n FROM sink_pending').get() as { n: number }).n) === 0, 30_000, 'sink queues empty');
  assert.equal(await child.kill('SIGTERM'), 0);

  const ids = new Set(service.predictions().map((p) => p.imageId));
  assert.equal(ids.size, IMAGES, 'one stored prediction per image');
  assert.deepEqual(hooked, ids, 'the webhook got every image');
  const lines = await jsonlRecords(jsonl);
  assert.deepEqual(new Set(lines.map((r) => r.imageId)), ids, 'the JSONL file has every image (every line whole)');
  t.diagnostic(`${IMAGES} images, 3 kills: ${posts} webhook posts (${posts - IMAGES} repeated), ${lines.length} JSONL lines (${lines.length - IMAGES} repeated), ${service.count()} stored`);
});
