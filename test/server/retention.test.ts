/** Issue 10 item 4: retention by capture age and by datalake size deletes rows and their files (and nothing else), at start and on demand, in batches; a disk below --min-free-gb answers monitor calls 503 with Retry-After. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { isEdgewatchError } from '../../src/errors.js';
import { Datalake } from '../../src/server/datalake.js';
import { serveConfigSchema } from '../../src/server/index.js';
import { Retention } from '../../src/server/retention.js';
import { PredictionStore, type StoredPrediction } from '../../src/server/store.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir, waitFor, type Handshake } from './sdk.js';

const DAY_S = 86_400;
const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

let seed = 3000;
async function post(h: Handshake, timestamp?: number): Promise<{ id: string; bytes: number }> {
  const image = await makeJpeg(16, 16, (seed += 1));
  const res = await postMonitor(h, monitorBody({ image, width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.01, ...(timestamp === undefined ? {} : { timestamp }) }));
  assert.equal(res.status, 201, res.text);
  return { id: res.json.id as string, bytes: image.length };
}

/** Every file under the data folder's datalake, relative paths. */
async function datalakeFiles(dataDir: string): Promise<string[]> {
  const entries = await readdir(join(dataDir, 'datalake'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(join(dataDir, 'datalake').length + 1)).sort();
}

test('retention and disk settings: flags, EDGEWATCH_* variables and defaults from the serve schema', () => {
  const { config } = loadConfig(serveConfigSchema, { argv: ['--retain-gb', '1.5', '--min-free-gb', '2'], env: { EDGEWATCH_RETAIN_DAYS: '30' } });
  assert.equal(config.retainDays, 30);
  assert.equal(config.retainGb, 1.5);
  assert.equal(config.minFreeGb, 2);
  const defaults = serveConfigSchema.parse({});
  assert.equal(defaults.retainDays, undefined);
  assert.equal(defaults.retainGb, undefined);
  assert.equal(defaults.minFreeGb, 0.5);
  for (const env of [{ EDGEWATCH_RETAIN_DAYS: '0' }, { EDGEWATCH_RETAIN_GB: '-1' }, { EDGEWATCH_MIN_FREE_GB: '-0.1' }]) {
    assert.throws(() => loadConfig(serveConfigSchema, { argv: [], env }), (e: unknown) => isEdgewatchError(e, 'EW_CONFIG_INVALID'), JSON.stringify(env));
  }
});

test('retention by age: predictions captured before the horizon go with their files, in every deployment; nothing else goes', async (t) => {
  const { server, dataDir } = await startTestServer(t, { deployment: ['demo', 'other'], retainDays: 30 });
  const demo = await sdkHandshake(server.url, server.token, 'edge', 'demo');
  const other = await sdkHandshake(server.url, server.token, 'edge', 'other');
  const now = Date.now() / 1000;
  const old = [await post(demo, now - 40 * DAY_S), await post(demo, now - 31 * DAY_S), await post(other, now - 400 * DAY_S)];
  const kept = [await post(demo, now - 29 * DAY_S), await post(demo), await post(other, now - DAY_S)];
  await writeFile(join(dataDir, 'datalake', 'notes.txt'), 'not an image of the service');
  const pathOf = async (id: string) => (await server.store.get(id))?.imagePath as string;
  const keptPaths = await Promise.all(kept.map((p) => pathOf(p.id)));

  const result = await server.retention.run();
  assert.equal(result.deletedByAge, 3);
  assert.equal(result.deletedBySize, 0);
  assert.equal(result.freedBytes, old.reduce((n, p) => n + p.bytes, 0));
  for (const p of old) assert.equal(await server.store.get(p.id), undefined, 'old row deleted');
  for (const p of kept) assert.ok(await server.store.get(p.id), 'recent row kept');
  assert.deepEqual(await datalakeFiles(dataDir), [...keptPaths, 'notes.txt'].sort(), 'only the old files went');
  assert.equal(await server.store.datalakeBytes(), kept.reduce((n, p) => n + p.bytes, 0));
  for (const name of ['monitoring.db', 'token', 'jwt-secret']) await stat(join(dataDir, name));
  assert.equal((await server.retention.run()).deletedByAge, 0, 'a second pass finds nothing');
  assert.equal((await postMonitor(demo, monitorBody({ image: await makeJpeg(16, 16, (seed += 1)), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.01 }))).status, 201, 'still accepting');
});

test('retention by size: beyond retainGb the predictions captured first go (capture order, not arrival order)', async (t) => {
  const dataDir = await tempDir(t);
  // Capture times deliberately not in posting order.
  const order = [3, 0, 4, 1, 2];
  const first = await startTestServer(t, { dataDir });
  const h = await sdkHandshake(first.server.url, first.server.token);
  const posted = [];
  for (const i of order) posted.push({ ...(await post(h, 1_700_000_000 + i * 60)), capture: i });
  await first.server.close();
  const byCapture = [...posted].sort((a, b) => a.capture - b.capture);
  const newestTwo = byCapture.slice(-2);
  const capBytes = newestTwo.reduce((n, p) => n + p.bytes, 0) + 1;

  const { server } = await startTestServer(t, { dataDir, retainGb: capBytes / 1e9 });
  await waitFor(async () => (await server.store.count(h.deploymentId)) === 2, 'the pass at start');
  for (const p of byCapture.slice(0, 3)) assert.equal(await server.store.get(p.id), undefined, `capture ${p.capture} deleted`);
  for (const p of newestTwo) assert.ok(await server.store.get(p.id), `capture ${p.capture} kept`);
  assert.deepEqual(await datalakeFiles(dataDir), (await Promise.all(newestTwo.map(async (p) => (await server.store.get(p.id))?.imagePath as string))).sort());
  assert.ok((await server.store.datalakeBytes()) <= capBytes);
});

test('retention at start: a restart with retainDays deletes what is older, without a request', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startTestServer(t, { dataDir });
  const h = await sdkHandshake(first.server.url, first.server.token);
  const now = Date.now() / 1000;
  const old = await post(h, now - 10 * DAY_S);
  const recent = await post(h, now - 3600);
  await first.server.close();
  const { server } = await startTestServer(t, { dataDir, retainDays: 7 });
  // The row goes first, its file right after (rows first, then the files of the rows deleted).
  await waitFor(async () => (await server.store.get(old.id)) === undefined && (await datalakeFiles(dataDir)).length === 1, 'the old prediction and its image deleted at start');
  assert.ok(await server.store.get(recent.id));
  assert.equal((await datalakeFiles(dataDir)).length, 1, 'the recent image kept');
});

test('retention runs in batches and removes the day folders it empties; close stops it', async (t) => {
  const dir = await tempDir(t);
  const store = new PredictionStore(join(dir, 'monitoring.db'));
  t.after(() => store.close());
  const datalake = new Datalake(join(dir, 'datalake'));
  const image = await makeJpeg(8, 8, 1);
  const ids: string[] = [];
  for (let i = 0; i < 7; i += 1) {
    const id = randomUUID();
    const imagePath = await datalake.write('demo', id, 'jpg', image, new Date(Date.UTC(2024, 0, 1 + (i % 2))));
    const row: StoredPrediction = {
      id, deploymentId: 'd', imageKey: id, filename: 'x.jpg', contentType: 'IMAGE/JPEG', width: 8, height: 8, imagePath, imageBytes: image.length,
      champion: classification(0, 0.5), championClass: 0, championScore: 0.5, latencyS: 0.01, shadow: null, shadowClass: null, shadowScore: null, shadowLatencyS: null,
      source: 'serving', tags: [], metadata: null, customMetadata: null, timestampS: 1_704_067_200 + i, receivedS: 1_704_067_200 + i,
    };
    assert.equal(store.insert(row).inserted, true);
    ids.push(id);
  }
  assert.equal(store.datalakeBytes(), 7 * image.length);
  const retention = new Retention({ store, datalake, logger: SILENT, policy: { retainDays: 1 }, batchRows: 2 });
  const result = await retention.run();
  assert.deepEqual({ deleted: result.deletedByAge, batches: result.batches }, { deleted: 7, batches: 4 });
  assert.ok(result.longestBatchMs >= 0);
  assert.equal(store.datalakeBytes(), 0);
  assert.deepEqual(await readdir(join(dir, 'datalake', 'demo')), [], 'the emptied day folders are gone');
  const written = await datalake.write('demo', randomUUID(), 'jpg', image, new Date(Date.UTC(2024, 0, 1)));
  await stat(join(dir, 'datalake', written));
  await retention.close();
  await retention.close();
  assert.equal((await retention.run()).batches, 0, 'a closed retention deletes nothing');
});

test('disk below --min-free-gb: monitor and late shadow answer 503 with Retry-After, nothing stored; other calls still answer', async (t) => {
  const dataDir = await tempDir(t);
  const first = await startTestServer(t, { dataDir });
  const h0 = await sdkHandshake(first.server.url, first.server.token);
  const created = await post(h0);
  await first.server.close();

  const { server } = await startTestServer(t, { dataDir, minFreeGb: 1e9 });
  const h = await sdkHandshake(server.url, server.token);
  const filesBefore = await datalakeFiles(dataDir);
  const body = monitorBody({ image: await makeJpeg(16, 16, (seed += 1)), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.01 });
  for (const oracleHost of [h.oracleHost, server.url]) {
    const res = await postMonitor({ ...h, oracleHost }, body);
    assert.equal(res.status, 503, res.text);
    assert.equal(res.headers['retry-after'], '30');
    assert.equal(res.json.code, 'EW_SERVER_DISK_LOW');
    assert.match(res.json.message, /disk/);
  }
  const shadow = await httpRequest(`${h.oracleHost}/api/prediction/${created.id}/shadow`, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}` }, body: JSON.stringify({ shadow_raw_predictions: classification(1, 0.5), shadow_latency: 0.01 }) });
  assert.equal(shadow.status, 503, shadow.text);
  assert.equal(shadow.headers['retry-after'], '30');
  assert.equal(await server.store.count(h.deploymentId), 1);
  assert.equal((await server.store.get(created.id))?.shadow, null);
  assert.deepEqual(await datalakeFiles(dataDir), filesBefore);
  const unauthenticated = await postMonitor({ ...h, jwt: 'nope' }, body);
  assert.equal(unauthenticated.status, 401, 'auth is still checked first');
  const stats = await httpRequest(`${h.oracleHost}/api/deployment/${h.deploymentId}/stats`, { headers: { authorization: `Bearer ${h.jwt}` } });
  assert.equal(stats.status, 200, 'reads still answer');
});
