/**
 * Retention against a review landing mid-pass (issue 11): rows are deleted before files, and only the files of the rows
 * the database really deleted go, so a prediction reviewed after its batch was selected keeps its image. A pass cut
 * between rows and files leaves files without a row, which the bounded sweep at start removes (older than an hour only).
 * Both stores: SQLite and a throwaway PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Datalake } from '../../src/server/datalake.js';
import { Retention } from '../../src/server/retention.js';
import { platform } from './registry-sdk.js';
import { classification, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir, waitFor, type Handshake } from './sdk.js';
import { testOnBothStores, type StoreBackend } from '../helpers/postgres.js';

const DAY_S = 86_400;
const SILENT = { debug() {}, info() {}, warn() {}, error() {} };
let seed = 9100;

async function predict(h: Handshake, timestamp?: number): Promise<string> {
  const image = await makeJpeg(16, 16, (seed += 1));
  const res = await postMonitor(h, monitorBody({ image, width: 16, height: 16, champion: classification(0, 0.8), shadow: classification(1, 0.7), latencyS: 0.01, ...(timestamp === undefined ? {} : { timestamp }) }));
  assert.equal(res.status, 201, res.text);
  return res.json.id as string;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

/** Every file under the datalake, relative paths, sorted. */
async function files(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'datalake');
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1)).sort();
}

async function cases(t: TestContext, on: StoreBackend): Promise<void> {
  await t.test('a review landing between the batch select and the delete keeps the prediction and its image; the others go with their files', async (t) => {
    const backend = await on(t);
    const { server, dataDir } = await startTestServer(t, { ...backend, labels: ['cat', 'dog'] });
    const h = await sdkHandshake(server.url, server.token);
    const p = platform(server.url, server.token, h.organizationId);
    const now = Date.now() / 1000;
    const target = await predict(h, now - 40 * DAY_S);
    const others = [await predict(h, now - 41 * DAY_S), await predict(h, now - 42 * DAY_S)];
    const fresh = await predict(h);
    const pathOf = async (id: string) => join(dataDir, 'datalake', (await server.store.get(id))?.imagePath as string);
    const targetFile = await pathOf(target);
    const otherFiles = await Promise.all(others.map(pathOf));
    const otherBytes = (await Promise.all(otherFiles.map((f) => stat(f)))).reduce((n, s) => n + s.size, 0);

    let selected: string[] = [];
    const retention = new Retention({
      store: server.store,
      datalake: new Datalake(join(dataDir, 'datalake')),
      logger: SILENT,
      policy: { retainDays: 30 },
      hooks: {
        // The race: the batch was selected while `target` had no review; the reviewer is faster than the delete.
        beforeDelete: async (batch) => {
          if (selected.length > 0) return;
          selected = batch.map((r) => r.id);
          const review = await p.post(`/api/predicted/asset/${target}/reviews`, { classifications: [{ label: 'dog' }] });
          assert.equal(review.status, 201, review.text);
        },
      },
    });
    const result = await retention.run();
    assert.ok(selected.includes(target), 'the batch was selected before the review');
    assert.equal(result.deletedByAge, 2);
    assert.equal(result.freedBytes, otherBytes, 'freed: the deleted rows\' images only');
    assert.ok(await server.store.get(target), 'the reviewed prediction stays');
    assert.ok(await exists(targetFile), 'and so does its image');
    const asset = await p.get(`/api/predicted/asset/${target}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.json.reviews.length, 1);
    for (const [i, id] of others.entries()) {
      assert.equal(await server.store.get(id), undefined, 'unreviewed old prediction deleted');
      assert.equal(await exists(otherFiles[i] as string), false, 'with its file');
    }
    assert.ok(await server.store.get(fresh));
    assert.equal((await retention.run()).deletedByAge, 0, 'the next pass finds nothing to delete and does not loop on the reviewed row');
    await retention.close();
  });

  await t.test('a pass cut between its row delete and its file delete leaves orphans; the sweep at the next start removes them (old ones only, nothing else)', async (t) => {
    const backend = await on(t);
    const dataDir = await tempDir(t);
    const first = await startTestServer(t, { ...backend, dataDir, labels: ['cat', 'dog'] });
    const token = first.server.token;
    const h = await sdkHandshake(first.server.url, token);
    const now = Date.now() / 1000;
    const old = [await predict(h, now - 40 * DAY_S), await predict(h, now - 41 * DAY_S)];
    const kept = await predict(h);
    const relOf = async (id: string) => (await first.server.store.get(id))?.imagePath as string;
    const oldRel = await Promise.all(old.map(relOf));
    const keptRel = await relOf(kept);
    const errors: unknown[] = [];
    const crashing = new Retention({
      store: first.server.store,
      datalake: new Datalake(join(dataDir, 'datalake')),
      logger: { ...SILENT, error: (o: unknown) => errors.push(o) },
      policy: { retainDays: 30 },
      hooks: {
        beforeFiles: () => {
          throw new Error('killed between the row delete and the file delete');
        },
      },
    });
    const cut = await crashing.run();
    assert.equal(cut.batches, 0, 'the pass ended at the crash');
    assert.equal(errors.length, 1);
    for (const id of old) assert.equal(await first.server.store.get(id), undefined, 'rows deleted');
    for (const rel of oldRel) assert.ok(await exists(join(dataDir, 'datalake', rel)), 'files left behind');
    await crashing.close();
    await first.server.close();

    // A young orphan (a monitor call may still be inserting its row) and files the service did not write stay.
    const youngRel = `demo/${new Date().toISOString().slice(0, 10)}/${randomUUID()}.jpg`;
    await mkdir(join(dataDir, 'datalake', youngRel, '..'), { recursive: true });
    await writeFile(join(dataDir, 'datalake', youngRel), 'young');
    await writeFile(join(dataDir, 'datalake', 'notes.txt'), 'not the service');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const rel of [...oldRel, keptRel, 'notes.txt']) await utimes(join(dataDir, 'datalake', rel), twoHoursAgo, twoHoursAgo);

    const second = await startTestServer(t, { ...backend, dataDir, token, labels: ['cat', 'dog'] });
    await waitFor(async () => !(await exists(join(dataDir, 'datalake', oldRel[0] as string))) && !(await exists(join(dataDir, 'datalake', oldRel[1] as string))), 'the start sweep');
    assert.deepEqual(await files(dataDir), [keptRel, youngRel, 'notes.txt'].sort(), 'only the old orphans went');
    assert.ok(await second.server.store.get(kept));
  });

  await t.test('the sweep is bounded: it looks at the oldest files first and at most maxFiles of them', async (t) => {
    const backend = await on(t);
    const { server, dataDir } = await startTestServer(t, { ...backend, labels: ['cat', 'dog'] });
    const datalake = new Datalake(join(dataDir, 'datalake'));
    const image = await makeJpeg(8, 8, 1);
    const orphans: string[] = [];
    for (let day = 1; day <= 3; day += 1) orphans.push(await datalake.write('demo', randomUUID(), 'jpg', image, new Date(Date.UTC(2024, 0, day))));
    const retention = new Retention({ store: server.store, datalake, logger: SILENT, policy: {}, sweep: { maxFiles: 2, minAgeMs: 0 } });
    const result = await retention.sweep();
    assert.deepEqual(result, { checked: 2, removed: 2, truncated: true });
    assert.equal(await exists(join(datalake.root, orphans[2] as string)), true, 'the newest orphan is beyond the bound');
    assert.equal(await exists(join(datalake.root, orphans[0] as string)), false);
    assert.deepEqual(await readdir(join(datalake.root, 'demo')), ['2024-01-03'], 'emptied day folders removed');
    await retention.close();
  });
}

testOnBothStores(cases);
