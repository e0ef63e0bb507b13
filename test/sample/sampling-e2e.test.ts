/** --sample end to end: what reaches the service carries its inclusion probability, the service's 1/p-weighted totals give the true totals, and every image still reaches the sinks. */
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { agentArgs, distinctJpegs, startService, stateDbQuery, tempFolder, waitUntil, type TestService } from '../helpers/service.js';
import { jsonlRecords, storedByImageId } from '../sinks/stored.js';

const IMAGES = 400;

/** The service's dashboard statistics of the deployment (weighted by 1/p). */
async function stats(service: TestService): Promise<{ counts: { predictions: number; estimated: number }; agreement: { compared: number; agreed: number } }> {
  const res = await fetch(`${service.url}/api/deployment/${service.deploymentId}/stats`, { headers: { authorization: `Bearer ${service.token}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as never;
}

test(`--sample rate=0.25 on ${IMAGES} images: weighted count = stored × 4 = the images sent to the sinks; the rest sampled out`, { timeout: 600_000 }, async (t) => {
  const service = await startService(t);
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  for (const [i, bytes] of (await distinctJpegs(IMAGES)).entries()) await writeFile(join(inbox, `img-${String(i).padStart(3, '0')}.jpg`), bytes);
  const stateDir = join(dir, 'state');
  const jsonl = join(dir, 'predictions.jsonl');
  const cli = await runCli(agentArgs({ host: service.url, inbox, stateDir }, ['--once', '--sample', 'rate=0.25', '--sink-jsonl', jsonl]), { PICSELLIA_API_TOKEN: service.token });
  assert.equal(cli.code, 0, cli.err.slice(-2000));
  const m = /edgewatch: (\d+) monitored, 0 already monitored, 0 rejected, 0 failed, 0 skipped, 0 pending, (\d+) sampled out/.exec(cli.out);
  assert.ok(m, cli.out);
  const monitored = Number(m[1]);
  const sampledOut = Number(m[2]);
  assert.equal(monitored + sampledOut, IMAGES);
  // 100 expected; 6 standard deviations either way.
  assert.ok(monitored > 40 && monitored < 160, `${monitored} sent`);

  const stored = storedByImageId(service.dataDir);
  assert.equal(stored.size, monitored);
  for (const s of stored.values()) assert.deepEqual(s.edgewatch.sampling, { probability: 0.25, policy: 'rate' });
  const weighted = await stats(service);
  assert.equal(weighted.counts.predictions, monitored);
  assert.equal(weighted.counts.estimated, monitored * 4, 'each stored prediction stands for 1/p = 4 images');

  const records = await jsonlRecords(jsonl);
  assert.equal(records.length, IMAGES, 'every image reaches the sinks, sent or not');
  assert.equal(records.filter((r) => r.monitoring.sent).length, monitored);
  assert.deepEqual(new Set(records.filter((r) => r.monitoring.sent).map((r) => r.imageId)), new Set(stored.keys()));
  const states = stateDbQuery(stateDir, (db) => db.prepare("SELECT state, code, COUNT(*) AS n FROM files GROUP BY state, code ORDER BY state").all());
  assert.deepEqual(states, [
    { state: 'delivered', code: null, n: monitored },
    { state: 'sampled', code: 'sampled', n: sampledOut },
  ]);
  assert.equal(stateDbQuery(stateDir, (db) => (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n), 0, 'sampled-out images are never queued, never retried');

  // A second run finds nothing to do: sampled-out files are done with.
  const again = await runCli(agentArgs({ host: service.url, inbox, stateDir }, ['--once', '--sample', 'rate=0.25']), { PICSELLIA_API_TOKEN: service.token });
  assert.match(again.out, /edgewatch: 0 monitored, .*, 0 sampled out/);
});

test('--sample rate=0.25,disagreement: every disagreement is sent (p = 1) and the weighted agreement counts are the stored ones weighted exactly by 1/p', { timeout: 600_000 }, async (t) => {
  const service = await startService(t);
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  for (const [i, bytes] of (await distinctJpegs(IMAGES, { offset: 5000, width: 40, height: 40 })).entries()) await writeFile(join(inbox, `img-${String(i).padStart(3, '0')}.jpg`), bytes);
  const stateDir = join(dir, 'state');
  const jsonl = join(dir, 'predictions.jsonl');
  const cli = await runCli(agentArgs({ host: service.url, inbox, stateDir }, ['--once', '--sample', 'rate=0.25,disagreement', '--sink-jsonl', jsonl]), { PICSELLIA_API_TOKEN: service.token });
  assert.equal(cli.code, 0, cli.err.slice(-2000));
  const records = await jsonlRecords(jsonl);
  assert.equal(records.length, IMAGES);
  const top = (r: (typeof records)[number]['champion']) => r.results[0]?.classId;
  const withShadow = records.filter((r) => r.shadow !== undefined);
  const disagreeing = withShadow.filter((r) => top(r.champion) !== top(r.shadow as (typeof records)[number]['champion']));
  for (const r of disagreeing) assert.deepEqual(r.monitoring, { sent: true, probability: 1, policy: 'disagreement' }, r.filename);
  for (const r of records.filter((x) => !disagreeing.includes(x))) assert.equal(r.monitoring.probability, 0.25, `${r.filename}: agreeing, or its shadow was late`);

  const stored = [...storedByImageId(service.dataDir).values()];
  assert.equal(stored.filter((s) => s.edgewatch.sampling?.policy === 'disagreement').length, disagreeing.length, 'all disagreements stored');
  // The service weights each stored prediction by exactly 1/p (late shadows included: it merges them into their prediction).
  const weight = (s: (typeof stored)[number]) => 1 / (s.edgewatch.sampling?.probability ?? 1);
  const weighted = await stats(service);
  assert.equal(weighted.counts.estimated, stored.reduce((n, s) => n + weight(s), 0));
  assert.equal(weighted.agreement.compared, stored.filter((s) => s.shadowClass !== null).reduce((n, s) => n + weight(s), 0));
  assert.equal(weighted.agreement.agreed, stored.filter((s) => s.shadowClass !== null && s.shadowClass === s.championClass).reduce((n, s) => n + weight(s), 0));
  // Unbiased: over the images whose shadow was in time, disagreements are counted exactly (p = 1) and
  // agreements are estimated by 4 × those sent (within 5 standard deviations: √(n (1 − p) / p)).
  const agreeing = withShadow.filter((r) => !disagreeing.includes(r));
  const estimatedAgreeing = agreeing.filter((r) => r.monitoring.sent).length / 0.25;
  const sd = Math.sqrt((agreeing.length * (1 - 0.25)) / 0.25);
  assert.ok(Math.abs(estimatedAgreeing - agreeing.length) <= 5 * sd + 4, `estimated ${estimatedAgreeing} agreements, true ${agreeing.length} (sd ${sd.toFixed(1)})`);
  t.diagnostic(`images ${IMAGES}, shadow in time ${withShadow.length}, disagreements ${disagreeing.length}, stored ${stored.length}, weighted agreement ${weighted.agreement.agreed}/${weighted.agreement.compared}`);
});

test('sampled-out images are done with: afterDelivery delete removes them, their records are in the sinks, a copy with the same bytes is a duplicate', async (t) => {
  const service = await startService(t);
  const dir = await tempFolder(t);
  const inbox = join(dir, 'inbox');
  await mkdir(inbox);
  const images = await distinctJpegs(3, { offset: 8000 });
  for (const [i, bytes] of images.entries()) await writeFile(join(inbox, `s-${i}.jpg`), bytes);
  const jsonl = join(dir, 'p.jsonl');
  const stateDir = join(dir, 'state');
  const args = agentArgs({ host: service.url, inbox, stateDir }, ['--once', '--sample', 'rate=0', '--after-delivery', 'delete', '--sink-jsonl', jsonl]);
  const cli = await runCli(args, { PICSELLIA_API_TOKEN: service.token });
  assert.equal(cli.code, 0, cli.err.slice(-1000));
  assert.match(cli.out, /edgewatch: 0 monitored, .*, 0 pending, 3 sampled out/);
  await waitUntil(async () => (await readdir(inbox)).filter((f) => f.endsWith('.jpg')).length === 0, 10_000, 'sampled-out files deleted');
  const records = await jsonlRecords(jsonl);
  assert.deepEqual(records.map((r) => r.monitoring), Array.from({ length: 3 }, () => ({ sent: false, probability: 0, policy: 'rate' })));
  assert.equal(service.count(), 0);
  // The same bytes again under another name: skipped as a duplicate of the sampled-out image.
  await writeFile(join(inbox, 'again.jpg'), images[0] as Buffer);
  const again = await runCli(args, { PICSELLIA_API_TOKEN: service.token });
  assert.match(again.out, /0 monitored, .*, 1 skipped, 0 pending, 0 sampled out/);
});
