/**
 * The store interface, run on both implementations: SQLite (the embedded default) and PostgreSQL (a throwaway
 * cluster). Every case runs on each; the statistics of the same predictions must come out identical from both.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { computeDashboardStats } from '../../src/server/aggregates/dashboard-stats.js';
import { computeSdkStats } from '../../src/server/aggregates/sdk-stats.js';
import { parseSdkQuery } from '../../src/server/aggregates/sdk-query.js';
import type { DeploymentInfo } from '../../src/server/config.js';
import { isEdgewatchError } from '../../src/errors.js';
import { PgMonitoringStore } from '../../src/server/pg/pg-store.js';
import { redactUrl } from '../../src/server/pg/pg-errors.js';
import type { MonitoringStore } from '../../src/server/store-api.js';
import { SqliteMonitoringStore } from '../../src/server/store-sqlite.js';
import type { StoredPrediction } from '../../src/server/store.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z

function prediction(i: number, o: Partial<StoredPrediction> = {}): StoredPrediction {
  const champion = i % 3;
  const shadow = i % 4 === 0 ? (champion + 1) % 3 : champion;
  const withShadow = i % 5 !== 0;
  return {
    id: randomUUID(),
    deploymentId: 'dep-a',
    imageKey: `sha256:${i}`,
    filename: `img-${i}.jpg`,
    contentType: 'IMAGE/JPEG',
    width: 64,
    height: 48,
    imagePath: `demo/2026-01-01/${i}.jpg`,
    imageBytes: 1000 + i,
    champion: { detection_classes: [champion], detection_texts: null, detection_scores: [0.5 + (i % 5) / 10] },
    championClass: champion,
    championScore: 0.5 + (i % 5) / 10,
    latencyS: 0.01 + (i % 7) / 1000,
    shadow: withShadow ? { detection_classes: [shadow], detection_texts: null, detection_scores: [0.6] } : null,
    shadowClass: withShadow ? shadow : null,
    shadowScore: withShadow ? 0.6 : null,
    shadowLatencyS: withShadow ? 0.02 + (i % 3) / 1000 : null,
    source: i % 2 === 0 ? 'serving' : 'line-2',
    tags: i % 3 === 0 ? ['night'] : [],
    metadata: null,
    customMetadata: { edgewatch: { champion: { name: 'c', hash: 'h1' }, shadow: { name: 's', hash: 'h2' }, backend: 'wasm', agentVersion: '1.0.0' } },
    timestampS: T0 + i * 97,
    receivedS: T0 + i * 97 + 1,
    championVersionId: 'v1',
    shadowVersionId: withShadow ? 'v2' : null,
    ...o,
  };
}

type Open = (t: TestContext) => Promise<MonitoringStore>;

async function sqliteOpen(t: TestContext): Promise<MonitoringStore> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewatch-store-'));
  const store = new SqliteMonitoringStore(join(dir, 'monitoring.db'));
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

function pgOpen(cluster: TestPostgres): Open {
  return async (t) => {
    const store = await PgMonitoringStore.open(await cluster.createDatabase());
    t.after(() => store.close());
    return store;
  };
}

const deployment: DeploymentInfo = { id: 'dep-a', name: 'a', type: 'CLASSIFICATION', labels: ['cat', 'dog', 'bird'], organizationId: 'org' };

/** The cases every implementation must pass. */
async function storeCases(t: TestContext, open: Open): Promise<void> {
  await t.test('insert is idempotent per (deployment, image key); get returns what was stored', async (t) => {
    const store = await open(t);
    const p = prediction(1, { tags: ['a', 'b'], metadata: { k: 1 } });
    assert.deepEqual(await store.insert(p), { inserted: true, id: p.id });
    const again = { ...p, id: randomUUID() };
    assert.deepEqual(await store.insert(again), { inserted: false, existingId: p.id });
    assert.deepEqual(await store.insert({ ...again, deploymentId: 'dep-b' }), { inserted: true, id: again.id }, 'another deployment may hold the same image');
    assert.deepEqual(await store.get(p.id), p);
    assert.equal(await store.get(again.id).then((x) => x?.deploymentId), 'dep-b');
    assert.equal(await store.get('missing'), undefined);
    assert.equal(await store.findByImageKey('dep-a', p.imageKey), p.id);
    assert.equal(await store.findByImageKey('dep-a', 'sha256:none'), undefined);
    assert.equal(await store.count('dep-a'), 1);
    assert.equal(await store.datalakeBytes(), 2 * p.imageBytes);
  });

  await t.test('insertMany counts only new rows (duplicates inside the batch and already stored)', async (t) => {
    const store = await open(t);
    const first = prediction(1);
    await store.insert(first);
    const batch = [prediction(1), prediction(2), prediction(3), { ...prediction(3), id: randomUUID() }];
    assert.equal(await store.insertMany(batch), 2);
    assert.equal(await store.count('dep-a'), 3);
    assert.equal(await store.insertMany([]), 0);
  });

  await t.test('a late shadow is set once and moves the aggregates', async (t) => {
    const store = await open(t);
    const p = prediction(5); // i % 5 === 0: no shadow
    assert.equal(p.shadow, null);
    await store.insert(p);
    const raw = { detection_classes: [2], detection_texts: null, detection_scores: [0.9] };
    assert.equal(await store.setShadow(p.id, raw, 2, 0.9, 0.03, 'v2'), true);
    assert.equal(await store.setShadow(p.id, raw, 1, 0.9, 0.03, 'v2'), false, 'only once');
    assert.equal(await store.setShadow('missing', raw, 1, 0.9, 0.03), false);
    const got = await store.get(p.id);
    assert.deepEqual([got?.shadowClass, got?.shadowScore, got?.shadowLatencyS, got?.shadowVersionId], [2, 0.9, 0.03, 'v2']);
    assert.deepEqual(got?.shadow, raw);
    const stats = await computeDashboardStats(store.aggregates, { deploymentId: 'dep-a' }, { labels: deployment.labels, driftWindow: 200 });
    assert.equal(stats.counts.predictions, 1);
    assert.equal(stats.latency.shadow?.count, 1);
  });

  await t.test('gallery: latest by capture time, filters, disagreements first', async (t) => {
    const store = await open(t);
    const ps = Array.from({ length: 20 }, (_, i) => prediction(i));
    assert.equal(await store.insertMany(ps), 20);
    const byTime = [...ps].sort((a, b) => b.timestampS - a.timestampS);
    assert.deepEqual((await store.latest({ deploymentId: 'dep-a' }, 5, false)).map((p) => p.id), byTime.slice(0, 5).map((p) => p.id));
    const night = await store.latest({ deploymentId: 'dep-a', tag: 'night' }, 50, false);
    assert.deepEqual(night.map((p) => p.id).sort(), ps.filter((p) => p.tags.includes('night')).map((p) => p.id).sort());
    const line2 = await store.latest({ deploymentId: 'dep-a', source: 'line-2', fromS: T0 + 5 * 97, toS: T0 + 15 * 97 }, 50, false);
    assert.deepEqual(line2.map((p) => p.id).sort(), ps.filter((p) => p.source === 'line-2' && p.timestampS >= T0 + 5 * 97 && p.timestampS <= T0 + 15 * 97).map((p) => p.id).sort());
    const disagree = await store.latest({ deploymentId: 'dep-a' }, 20, true);
    const isDisagreement = (p: StoredPrediction) => p.shadow !== null && p.championClass !== p.shadowClass;
    const k = ps.filter(isDisagreement).length;
    assert.ok(k > 0 && k < 20);
    assert.ok(disagree.slice(0, k).every(isDisagreement), 'disagreements first');
    assert.ok(!disagree.slice(k).some(isDisagreement));
  });

  await t.test('retention queries: oldest (before a time), deleteMany frees the byte counter, aggregates stay', async (t) => {
    const store = await open(t);
    const ps = Array.from({ length: 10 }, (_, i) => prediction(i));
    await store.insertMany(ps);
    const before = await computeDashboardStats(store.aggregates, { deploymentId: 'dep-a' }, { labels: deployment.labels, driftWindow: 200 });
    const oldest = await store.oldest(3);
    assert.deepEqual(oldest, ps.slice(0, 3).map((p) => ({ id: p.id, imagePath: p.imagePath, imageBytes: p.imageBytes, timestampS: p.timestampS })));
    assert.deepEqual((await store.oldest(100, T0 + 2 * 97)).map((r) => r.id), ps.slice(0, 2).map((p) => p.id));
    assert.equal(await store.deleteMany([...oldest.map((r) => r.id), 'missing']), 3);
    assert.equal(await store.deleteMany([]), 0);
    assert.equal(await store.count('dep-a'), 7);
    assert.equal(await store.datalakeBytes(), ps.slice(3).reduce((n, p) => n + p.imageBytes, 0));
    const after = await computeDashboardStats(store.aggregates, { deploymentId: 'dep-a' }, { labels: deployment.labels, driftWindow: 200 });
    assert.deepEqual(after.counts, before.counts);
  });
}

/** Everything the statistics read, for one set of predictions: the dashboard document and each SDK service with filters. */
async function statsOf(store: MonitoringStore) {
  const out: Record<string, unknown> = {};
  out.all = await computeDashboardStats(store.aggregates, { deploymentId: 'dep-a' }, { labels: deployment.labels, driftWindow: 20 });
  out.window = await computeDashboardStats(store.aggregates, { deploymentId: 'dep-a', fromS: T0 + 3000, toS: T0 + 9000, source: 'line-2', tags: ['night'] }, { labels: deployment.labels, driftWindow: 5, bucketSeconds: 600 });
  const queries = ['service=metrics', 'service=label_distribution', `service=ks_drift&from_timestamp=${T0}&to_timestamp=${T0 + 20_000}`, 'service=label_distribution&model_id=v2&tags=night'];
  for (const q of queries) out[q] = await computeSdkStats(store.aggregates, deployment, parseSdkQuery(new URL(`http://x/?${q}`), 'aggregated', T0 + 30_000));
  out.classification = await computeSdkStats(store.aggregates, deployment, parseSdkQuery(new URL('http://x/?service=classification&includes=cat'), 'predictions', T0 + 30_000));
  return out;
}

test('SQLite store', async (t) => {
  await storeCases(t, sqliteOpen);
});

test('PostgreSQL store', async (t) => {
  const cluster = await startPostgres(t);
  if (cluster === null) return;
  await storeCases(t, pgOpen(cluster));

  await t.test('the same predictions give the same statistics on SQLite and PostgreSQL (inserted one by one, in a batch, with late shadows)', async (t) => {
    const ps = Array.from({ length: 240 }, (_, i) => prediction(i, i % 11 === 0 ? { deploymentId: 'dep-b' } : {}));
    const stores = [await sqliteOpen(t), await pgOpen(cluster)(t)];
    for (const store of stores) {
      for (const p of ps.slice(0, 100)) await store.insert(p);
      await store.insertMany(ps.slice(100));
      for (const p of ps.filter((x) => x.shadow === null).slice(0, 10)) await store.setShadow(p.id, { detection_classes: [1], detection_texts: null, detection_scores: [0.7] }, 1, 0.7, 0.05, 'v3');
    }
    const [sqlite, postgres] = await Promise.all(stores.map(statsOf));
    assert.ok(((sqlite as { all: { counts: { predictions: number } } }).all.counts.predictions) > 200);
    assert.deepEqual(postgres, sqlite);
  });

  await t.test('concurrent inserts of the same image from several connections store it once; the others get its id', async (t) => {
    const url = await cluster.createDatabase();
    const replicas = [await PgMonitoringStore.open(url), await PgMonitoringStore.open(url), await PgMonitoringStore.open(url)];
    t.after(() => Promise.all(replicas.map((r) => r.close())));
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => replicas[i % 3] as PgMonitoringStore).map((r, i) => r.insert(prediction(Math.floor(i / 10), { id: randomUUID() }))),
    );
    const inserted = results.filter((r) => r.inserted);
    assert.equal(inserted.length, 3, 'one row per image');
    for (const r of results) if (!r.inserted) assert.ok(inserted.some((x) => x.inserted && x.id === r.existingId));
    assert.equal(await replicas[0]?.count('dep-a'), 3);
    const stats = await computeDashboardStats((replicas[1] as PgMonitoringStore).aggregates, { deploymentId: 'dep-a' }, { labels: deployment.labels, driftWindow: 200 });
    assert.equal(stats.counts.predictions, 3, 'aggregates counted once');
  });

  await t.test('an unreachable database fails with EW_SERVER_DATABASE and no password in the message', async () => {
    const url = `postgres://edgewatch:s3cret-pw@127.0.0.1:${cluster.port}/no_such_database`;
    await assert.rejects(PgMonitoringStore.open(url), (err: unknown) => {
      assert.ok(isEdgewatchError(err, 'EW_SERVER_DATABASE'), String(err));
      assert.ok(!(err as Error).message.includes('s3cret-pw'), (err as Error).message);
      assert.match((err as Error).message, /no_such_database/);
      return true;
    });
    assert.equal(redactUrl('postgres://u:pw@h:1/d'), 'postgres://u:***@h:1/d');
  });

  await t.test('a database stopped under a running store: queries fail with EW_SERVER_DATABASE (the service answers 503)', async (t) => {
    const url = await cluster.createDatabase();
    const store = await PgMonitoringStore.open(url);
    t.after(() => store.close());
    await store.insert(prediction(1));
    const admin = new pg.Client({ connectionString: cluster.adminUrl });
    await admin.connect();
    t.after(() => admin.end());
    const name = new URL(url).pathname.slice(1);
    // Refuse new connections to that database and end the open ones: the store sees what a stopped server looks like.
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    await assert.rejects(store.insert(prediction(2)), (err: unknown) => isEdgewatchError(err, 'EW_SERVER_DATABASE'));
    await assert.rejects(store.count('dep-a'), (err: unknown) => isEdgewatchError(err, 'EW_SERVER_DATABASE'));
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    assert.equal((await store.insert(prediction(2))).inserted, true, 'the pool reconnects');
  });
});
