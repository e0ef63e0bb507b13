/**
 * Two `edgewatch serve` processes on one PostgreSQL database and one data folder, as behind a load balancer: they give
 * the same answers, a duplicate sent to each is stored once (the second gets the protocol's 409 with the first's id),
 * and a JWT issued by one is accepted by the other.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { computeDashboardStats } from '../../src/server/aggregates/dashboard-stats.js';
import { serveConfigSchema, startServer } from '../../src/server/index.js';
import { runCli } from '../helpers/cli.js';
import { startPostgres } from '../helpers/postgres.js';
import { platform, storeModelFile } from './registry-sdk.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, tempDir, waitFor, type Handshake } from './sdk.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI_ENTRY = join(ROOT, 'test', 'helpers', 'cli-entry.ts');

/** `edgewatch serve <args>` in its own process; resolves with its URL once it listens; stopped (SIGTERM) in `t.after`. */
export async function startServeProcess(t: TestContext, args: string[]): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'serve', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += String(c)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += String(c);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolveUrl(m[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${err}`)));
  });
  return { url, child, stderr: () => err };
}

async function datalakeFiles(dataDir: string): Promise<string[]> {
  const entries = await readdir(join(dataDir, 'datalake'), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

test('two serve replicas on one PostgreSQL and one data folder: one token and JWT key, duplicates stored once, the same answers', async (t) => {
  const cluster = await startPostgres(t);
  if (cluster === null) return;
  const database = await cluster.createDatabase();
  const dataDir = await tempDir(t);
  // Both start at once on a fresh data folder: they must end up with one token and one JWT secret.
  const [a, b] = await Promise.all([startServeProcess(t, ['--database', database, '--data-dir', dataDir]), startServeProcess(t, ['--database', database, '--data-dir', dataDir])]);
  const token = (await readFile(join(dataDir, 'token'), 'utf8')).trim();
  const ha = await sdkHandshake(a.url, token);
  const hb = await sdkHandshake(b.url, token);
  assert.equal(ha.deploymentId, hb.deploymentId);

  // A JWT issued by A is accepted by B, and the other way round.
  const viaB: Handshake = { ...ha, oracleHost: ha.oracleHost.replace(a.url, b.url) };
  const viaA: Handshake = { ...hb, oracleHost: hb.oracleHost.replace(b.url, a.url) };
  const first = await postMonitor(viaB, monitorBody({ image: await makeJpeg(16, 16, 1), width: 16, height: 16, champion: classification(0, 0.9), latencyS: 0.01 }));
  assert.equal(first.status, 201, first.text);
  const second = await postMonitor(viaA, monitorBody({ image: await makeJpeg(16, 16, 2), width: 16, height: 16, champion: classification(1, 0.8), latencyS: 0.02 }));
  assert.equal(second.status, 201, second.text);

  // A duplicate sent to each replica at the same time: one 201, one 409 carrying the stored id.
  for (let seed = 10; seed < 16; seed += 1) {
    const body = monitorBody({ image: await makeJpeg(16, 16, seed), width: 16, height: 16, champion: classification(seed % 2, 0.7), shadow: classification(0, 0.6), latencyS: 0.01, tags: ['dup'] });
    const [ra, rb] = await Promise.all([postMonitor(ha, body), postMonitor(hb, body)]);
    const statuses = [ra.status, rb.status].sort();
    assert.deepEqual(statuses, [201, 409], `${ra.text} ${rb.text}`);
    const created = ra.status === 201 ? ra : rb;
    const duplicate = ra.status === 201 ? rb : ra;
    assert.equal(duplicate.json.id, created.json.id, 'the 409 names the stored prediction');
    // Sent again later to the other replica: 409 again, same id.
    const later = await postMonitor(ra.status === 201 ? hb : ha, body);
    assert.equal(later.status, 409);
    assert.equal(later.json.id, created.json.id);
  }

  // Stored once each: 8 rows, 8 datalake files (the losers' files were removed), the same count and stats from both.
  const client = new pg.Client({ connectionString: database });
  await client.connect();
  const rows = (await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM predictions')).rows[0]?.n;
  await client.end();
  assert.equal(Number(rows), 8);
  assert.equal((await datalakeFiles(dataDir)).length, 8);
  const auth = { authorization: `Bearer ${token}` };
  const info = await Promise.all([a, b].map((r) => httpRequest(`${r.url}/oracle/api/deployment/${ha.deploymentId}`, { headers: auth })));
  assert.deepEqual(info.map((r) => r.json.predictions), [8, 8]);
  for (const q of ['service=metrics', 'service=label_distribution&tags=dup']) {
    const stats = await Promise.all([a, b].map((r) => httpRequest(`${r.url}/oracle/api/deployment/${ha.deploymentId}/stats?${q}`, { headers: auth })));
    assert.equal(stats[0]?.status, 200, stats[0]?.text);
    assert.deepEqual(stats[0]?.json, stats[1]?.json, q);
  }
  const dashboard = await Promise.all([a, b].map((r) => httpRequest(`${r.url}/api/deployment/${ha.deploymentId}/stats`, { headers: auth })));
  assert.equal(dashboard[0]?.status, 200, dashboard[0]?.text);
  assert.equal(dashboard[0]?.json.counts.predictions, 8);
  assert.deepEqual(dashboard[0]?.json.counts, dashboard[1]?.json.counts);

  // The gallery of B shows A's predictions, and B serves their images from the shared datalake.
  const gallery = await httpRequest(`${b.url}/api/deployment/${ha.deploymentId}/predictions?limit=50`, { headers: auth });
  assert.equal(gallery.json.items.length, 8);
  const image = await httpRequest(`${b.url}/api/image/${first.json.id}`, { headers: auth });
  assert.equal(image.status, 200);
  assert.equal(image.headers["content-type"], "image/jpeg");

  // Predicted assets are served on PostgreSQL too (registry-and-review details: the test below).
  const assets = await httpRequest(`${a.url}/api/deployment/${ha.deploymentId}/predictedassets`, { headers: auth });
  assert.equal(assets.status, 200, assets.text);
  assert.equal(assets.json.count, 8);

  // The database unavailable: monitor calls answer 503 with Retry-After (agents retry), and /readyz says not ready.
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  // Ended at the end of the test; if the test fails first, the cluster's stop ends it: that is not a new failure.
  admin.on('error', () => undefined);
  const name = new URL(database).pathname.slice(1);
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
  const down = await postMonitor(ha, monitorBody({ image: await makeJpeg(16, 16, 99), width: 16, height: 16, champion: classification(0, 0.9), latencyS: 0.01 }));
  assert.equal(down.status, 503, down.text);
  assert.equal(down.headers['retry-after'], '5');
  assert.equal(down.json.code, 'EW_SERVER_DATABASE');
  assert.ok(!down.text.includes(database), 'the database URL is not in the answer');
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
  const back = await postMonitor(ha, monitorBody({ image: await makeJpeg(16, 16, 99), width: 16, height: 16, champion: classification(0, 0.9), latencyS: 0.01 }));
  assert.equal(back.status, 201, back.text);
  await admin.end();
});

test('serve --database: a URL that is not PostgreSQL is a configuration error; an unreachable database exits 2 with EW_SERVER_DATABASE and no password', async (t) => {
  const dataDir = await tempDir(t);
  const bad = await runCli(['serve', '--database', 'mysql://x@localhost/db', '--data-dir', dataDir, '--port', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /EW_CONFIG_INVALID/);
  assert.match(bad.err, /database/);
  const cluster = await startPostgres(t);
  if (cluster === null) return;
  const down = await runCli(['serve', '--database', `postgres://edgewatch:hunter2-secret@127.0.0.1:${cluster.port}/missing_db`, '--data-dir', dataDir, '--port', '0']);
  assert.equal(down.code, 2, down.err);
  assert.match(down.err, /EW_SERVER_DATABASE/);
  assert.ok(!down.err.includes('hunter2-secret'), down.err);
});

test('serve on PostgreSQL: a late shadow sent to the other replica, retention deletes old rows and files while the aggregates stay', async (t) => {
  const cluster = await startPostgres(t);
  if (cluster === null) return;
  const database = await cluster.createDatabase();
  const dataDir = await tempDir(t);
  const token = 'replica-test-token';
  const start = async () => {
    const server = await startServer(serveConfigSchema.parse({ dataDir, port: 0, token, database, retainDays: 2 }));
    t.after(() => server.close());
    return server;
  };
  const [a, b] = [await start(), await start()];
  assert.equal(a.store.kind, 'postgres');
  const ha = await sdkHandshake(a.url, token);
  const now = Date.now() / 1000;
  const ids: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    const res = await postMonitor(ha, monitorBody({ image: await makeJpeg(16, 16, 40 + i), width: 16, height: 16, champion: classification(i % 2, 0.8), latencyS: 0.01, timestamp: now - (i < 3 ? 10 * 86_400 : 0) }));
    assert.equal(res.status, 201, res.text);
    ids.push(res.json.id as string);
  }
  const late = await httpRequest(`${b.url}/oracle/api/prediction/${ids[3]}/shadow`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ha.jwt}` },
    body: JSON.stringify({ shadow_raw_predictions: classification(1, 0.6), shadow_latency: 0.02 }),
  });
  assert.equal(late.status, 201, late.text);
  const again = await httpRequest(`${a.url}/oracle/api/prediction/${ids[3]}/shadow`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ha.jwt}` },
    body: JSON.stringify({ shadow_raw_predictions: classification(0, 0.6), shadow_latency: 0.02 }),
  });
  assert.equal(again.status, 409, 'the other replica sees the shadow already stored');
  assert.equal((await a.store.get(ids[3] as string))?.shadowClass, 1);

  const before = await computeDashboardStats(a.store.aggregates, { deploymentId: ha.deploymentId }, { labels: [], driftWindow: 200 });
  assert.equal((await datalakeFiles(dataDir)).length, 4);
  const result = await b.retention.run();
  assert.equal(result.deletedByAge, 3);
  assert.equal((await a.retention.run()).deletedByAge, 0, 'the other replica finds nothing left to delete');
  assert.equal(await a.store.count(ha.deploymentId), 1);
  assert.equal((await datalakeFiles(dataDir)).length, 1);
  assert.equal(await a.store.datalakeBytes(), (await a.store.get(ids[3] as string))?.imageBytes);
  const after = await computeDashboardStats(a.store.aggregates, { deploymentId: ha.deploymentId }, { labels: [], driftWindow: 200 });
  assert.deepEqual(after.counts, before.counts, 'aggregates of deleted predictions stay');
  assert.equal(after.counts.predictions, 4);
});

test('registry and reviews across replicas: a model pushed through A is downloaded through B, B follows champion/shadow set through A, a review through B counts in the verdict read through A', async (t) => {
  const cluster = await startPostgres(t);
  if (cluster === null) return;
  const database = await cluster.createDatabase();
  const dataDir = await tempDir(t);
  // Two processes: nothing but the database and the data folder is shared.
  const args = ['--database', database, '--data-dir', dataDir, '--labels', 'cat,dog'];
  const a = await startServeProcess(t, args);
  const b = await startServeProcess(t, args);
  const token = (await readFile(join(dataDir, 'token'), 'utf8')).trim();
  const db = new pg.Client({ connectionString: database });
  await db.connect();
  db.on('error', () => undefined); // the cluster stops first if the test fails: not a second failure
  t.after(() => db.end());
  const versionsOf = async (id: string) => {
    const r = (await db.query<{ c: string | null; s: string | null }>('SELECT champion_version_id AS c, shadow_version_id AS s FROM predictions WHERE id = $1', [id])).rows[0];
    return [r?.c, r?.s];
  };
  const pa = platform(a.url, token);
  const organizationId = (await pa.get('/api/home/ping')).json.default_organization as string;
  const connectorId = (await pa.get(`/api/organization/${organizationId}`)).json.default_connector_id as string;
  const A = platform(a.url, token, organizationId);
  const B = platform(b.url, token, organizationId);
  const deploymentId = (await A.get(`/api/organization/${organizationId}/deployments/find?name=demo`)).json.id as string;

  // Push through A: a model, two versions, a model file uploaded by the presigned POST.
  const model = await A.post(`/api/organization/${organizationId}/models`, { name: 'classifier' });
  assert.equal(model.status, 201, model.text);
  assert.equal((await B.post(`/api/organization/${organizationId}/models`, { name: 'classifier' })).status, 409, 'the name is taken for both replicas');
  const v1 = (await A.post(`/api/model/${model.json.id}/versions`, { labels: { '0': 'cat', '1': 'dog' }, type: 'CLASSIFICATION', name: 'v1' })).json.id as string;
  const v2res = await B.post(`/api/model/${model.json.id}/versions`, { labels: { '0': 'cat', '1': 'dog' }, type: 'CLASSIFICATION', name: 'v2' });
  assert.equal(v2res.json.version, 2, 'version numbers continue across replicas');
  const v2 = v2res.json.id as string;
  const zip = Buffer.from(`PK fake model zip ${'x'.repeat(300)}`);
  const stored = await storeModelFile(A, { organizationId, connectorId, modelVersionId: v1 }, 'model-tfjs', 'model-tfjs.zip', zip);
  assert.equal(stored.status, 201, stored.text);

  // Download through B (the data folder is shared): its own presigned URL, fetched without the token.
  const files = await B.get(`/api/model/version/${v1}/modelfiles`);
  assert.equal(files.status, 200, files.text);
  assert.equal(files.json.items.length, 1);
  const found = await B.get(`/api/model/version/${v1}/modelfiles/find?name=model-tfjs`);
  assert.equal(found.json.id, stored.json.id);
  const downloaded = await fetch(found.json.presigned_url as string);
  assert.equal(downloaded.status, 200);
  assert.ok(Buffer.from(await downloaded.arrayBuffer()).equals(zip), 'B serves the bytes A stored');

  // Champion and shadow set through A: B names them (it heard the change) and stamps its new predictions with them.
  assert.equal((await A.post(`/api/deployment/${deploymentId}/model`, { model_version_id: v1 })).status, 200);
  assert.equal((await A.post(`/api/deployment/${deploymentId}/shadow`, { model_version_id: v2 })).status, 200);
  const names = async (p: typeof A) => {
    const d = (await p.get(`/api/deployment/${deploymentId}`)).json;
    return `${d.model_version_id as string}/${(d.shadow_model_version_id as string | null) ?? 'none'}`;
  };
  await waitFor(async () => (await names(B)) === `${v1}/${v2}`, 'replica B to follow the champion/shadow set through A');
  const hb = await sdkHandshake(b.url, token);
  const posted = await postMonitor(hb, monitorBody({ image: await makeJpeg(16, 16, 70), width: 16, height: 16, champion: classification(0, 0.9), shadow: classification(1, 0.7), latencyS: 0.01 }));
  assert.equal(posted.status, 201, posted.text);
  assert.deepEqual(await versionsOf(posted.json.id as string), [v1, v2], 'stamped by B with the versions A set');

  // Reviewed through B (the shadow was right), read through A: one reviewed disagreement, won by the shadow.
  const asset = await B.get(`/api/predicted/asset/${posted.json.id as string}`);
  assert.equal(asset.status, 200, asset.text);
  assert.deepEqual(asset.json.predictions.map((x: { is_shadow: boolean }) => x.is_shadow).sort(), [false, true]);
  const review = await B.post(`/api/predicted/asset/${posted.json.id as string}/reviews`, { classifications: [{ label: 'dog' }] });
  assert.equal(review.status, 201, review.text);
  assert.equal((await A.post(`/api/predicted/asset/${posted.json.id as string}/reviews`, { classifications: [{ label: 'cat' }] })).status, 409, 'one review per asset, across replicas');
  const verdict = await A.get(`/api/deployment/${deploymentId}/verdict`);
  assert.equal(verdict.status, 200, verdict.text);
  assert.deepEqual(verdict.json.traffic, { paired: 1, agreements: 0, disagreements: 1 });
  assert.equal(verdict.json.paired.onlyShadowRight, 1);
  assert.deepEqual([verdict.json.period.champion.id, verdict.json.period.shadow.id], [v1, v2]);
  const queue = await A.get(`/api/deployment/${deploymentId}/predictedassets?period=current&review_status=TO_REVIEW&order_by=disagreements_first&paired=true`);
  assert.equal(queue.json.count, 0, 'nothing left to review');

  // Whoever deletes (retention of any replica, or by hand), the reviewed prediction stays.
  await db.query('DELETE FROM predictions');
  assert.equal((await db.query('SELECT id FROM predictions')).rowCount, 1, 'a reviewed prediction cannot be deleted, whoever deletes');

  // Promoted through B while the replicas' listening connections are cut (a notification nobody hears): A re-reads the
  // deployments when it reconnects, follows, and stamps its predictions with the new champion and no shadow.
  const cut = await db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'edgewatch serve (listen)'");
  assert.equal(cut.rowCount, 2, 'one listening connection per replica');
  const promoted = await B.post(`/api/deployment/${deploymentId}/promote`, {});
  assert.equal(promoted.status, 200, promoted.text);
  await waitFor(async () => (await names(A)) === `${v2}/none`, 'replica A to follow the promotion made through B');
  const ha = await sdkHandshake(a.url, token);
  const after = await postMonitor(ha, monitorBody({ image: await makeJpeg(16, 16, 71), width: 16, height: 16, champion: classification(1, 0.9), latencyS: 0.01 }));
  assert.equal(after.status, 201, after.text);
  assert.deepEqual(await versionsOf(after.json.id as string), [v2, null]);
  const next = await B.get(`/api/deployment/${deploymentId}/verdict`);
  assert.equal(next.json.traffic.paired, 0, 'a promotion starts a new comparison period');
  assert.equal(next.json.periods.length, 3);
});
