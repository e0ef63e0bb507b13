/**
 * The WAL checkpoints off the event loop (issue 10, monitor p99): the writer leaves them to a worker thread, the WAL
 * stays bounded under sustained inserts (by the worker, and by the writer's inline cap when the worker is behind),
 * a failed checkpoint is logged and not fatal, and the monitor reply says where its time went (Server-Timing).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { ServeConfig } from '../../src/server/config.js';
import type { ServerLogger } from '../../src/server/context.js';
import { openMonitoringStore } from '../../src/server/store-open.js';
import type { SqliteMonitoringStore } from '../../src/server/store-sqlite.js';
import { PredictionStore, type StoredPrediction } from '../../src/server/store.js';
import { WAL_HARD_CAP_PAGES, WalCheckpointer } from '../../src/server/wal-checkpointer.js';
import { classification, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir } from './sdk.js';

let n = 0;
function prediction(): StoredPrediction {
  n += 1;
  return {
    id: randomUUID(), deploymentId: 'dep-1', imageKey: `k${n}`, filename: `f${n}.jpg`, contentType: 'IMAGE/JPEG', width: 8, height: 8,
    imagePath: `x/${n}.jpg`, imageBytes: 100, champion: classification(n % 2, 0.9), championClass: n % 2, championScore: 0.9, latencyS: 0.001 * (n % 97),
    shadow: null, shadowClass: null, shadowScore: null, shadowLatencyS: null, source: `cam-${n % 7}`, tags: [`t${n % 5}`], metadata: null, customMetadata: null,
    timestampS: 1_700_000_000 + n * 61, receivedS: 1_700_000_000 + n * 61,
  };
}

function workerOf(store: PredictionStore): WalCheckpointer {
  const worker = store.checkpointer;
  assert.ok(worker !== null, 'the first write started the checkpoint worker');
  return worker;
}

const walBytes = (file: string) => stat(`${file}-wal`).then((s) => s.size, () => 0);
/** Bytes of a WAL holding `pages` frames (4 KiB pages, 24-byte frame headers, 32-byte file header). */
const walOf = (pages: number) => 32 + pages * (4096 + 24);

test('the writer leaves checkpoints to the worker: the WAL stays small under sustained inserts, and bounded by the cap without the worker', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'monitoring.db');
  // The timer is off (one hour): the test drives the worker's checkpoints itself.
  const store = new PredictionStore(file, { checkpoint: { intervalMs: 3_600_000 } });
  t.after(() => store.close());
  assert.equal(store.checkpointer, null, 'no worker before the first write');
  const probe = new Database(file, { readonly: true });
  t.after(() => probe.close());

  let withWorker = 0;
  for (let i = 0; i < 1200; i++) {
    store.insert(prediction());
    if (i % 5 === 4) {
      const r = await workerOf(store).checkpointNow();
      assert.equal(r.busy, false);
      assert.equal(r.checkpointed, r.log, 'every frame copied into the database');
      withWorker = Math.max(withWorker, await walBytes(file));
    }
  }
  // Between two checkpoints the WAL holds 5 inserts' pages; it restarts from its start after each.
  assert.ok(withWorker > 0 && withWorker < walOf(500), `WAL at most ${withWorker} bytes with the worker (SQLite's default inline checkpoint is at 1000 pages)`);
  assert.equal(probe.pragma('wal_autocheckpoint', { simple: true }), 1000, 'another connection keeps the default');

  // The worker stopped (or far behind): the writer's own checkpoint at the cap keeps the WAL bounded.
  await workerOf(store).close();
  let without = 0;
  for (let i = 0; i < 1500; i++) {
    store.insert(prediction());
    if (i % 50 === 49) without = Math.max(without, await walBytes(file));
  }
  assert.ok(without > walOf(1000), `without the worker the WAL grows past SQLite's default 1000 pages (${without} bytes): the writer does not checkpoint there`);
  assert.ok(without <= walOf(WAL_HARD_CAP_PAGES + 200), `but never much past the cap (${without} bytes)`);
  assert.equal((probe.prepare('SELECT COUNT(*) AS n FROM predictions').get() as { n: number }).n, 2700, 'every insert is readable');
  t.diagnostic(`WAL bytes at most: ${withWorker} with the worker, ${without} without`);
});

test('a checkpoint that fails is reported (first and one in 60), never thrown; the store keeps writing', async (t) => {
  const dir = await tempDir(t);
  const errors: Error[] = [];
  const failing = new WalCheckpointer(join(dir, 'missing.db'), { intervalMs: 3_600_000, onError: (e) => errors.push(e) });
  t.after(() => failing.close());
  await assert.rejects(failing.checkpointNow(), /WAL checkpoint failed: cannot open/);
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.message ?? '', /cannot open .*missing\.db/);

  // The service's store: its database file removed behind its back before the first write (the worker cannot open it).
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ obj, msg }) } as unknown as ServerLogger;
  const store = await openMonitoringStore({ database: undefined } as ServeConfig, dir, logger);
  t.after(() => store.close());
  await unlink(join(dir, 'monitoring.db'));
  assert.equal((await store.insert(prediction())).inserted, true);
  const worker = workerOf((store as SqliteMonitoringStore).sqlite);
  await assert.rejects(worker.checkpointNow(), /cannot open/);
  assert.equal(warnings.length, 1, 'logged once');
  assert.equal(warnings[0]?.obj.code, 'EW_STORE_CHECKPOINT');
  assert.match(warnings[0]?.msg ?? '', /WAL checkpoint failed/);
  for (let i = 0; i < 50; i++) assert.equal((await store.insert(prediction())).inserted, true, 'writes go on');
  assert.equal(await store.count('dep-1'), 51);
});

test('the monitor reply says where its time went (Server-Timing: read, parse, lookup, check, image, db)', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const res = await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 1), width: 8, height: 8, champion: classification(0, 0.5), latencyS: 0.01 }));
  assert.equal(res.status, 201);
  const phases = Object.fromEntries(String(res.headers['server-timing']).split(', ').map((p) => p.split(';dur=')));
  assert.deepEqual(Object.keys(phases), ['read', 'parse', 'lookup', 'check', 'image', 'db']);
  for (const [name, ms] of Object.entries(phases)) assert.ok(Number(ms) >= 0 && Number.isFinite(Number(ms)), `${name}=${ms}`);
});
