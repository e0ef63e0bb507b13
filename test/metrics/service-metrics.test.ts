/** The service's metrics port and /metrics on its main port: requests by route template, monitor calls by result, stored predictions, datalake and disk; /healthz and /readyz. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { serveConfigSchema, startServer } from '../../src/server/index.js';
import { ServiceHealth } from '../../src/server/health.js';
import { DiskGuard } from '../../src/server/disk-guard.js';
import { isEdgewatchError } from '../../src/errors.js';
import { takenPort } from '../helpers/ports.js';
import { classification, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir } from '../server/sdk.js';
import { health, scrape } from './scrape.js';

const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

test('serve --metrics-port: monitor calls move the counters; routes are templates, never ids; the token is never there', async (t) => {
  const { server } = await startTestServer(t, { metricsPort: 0, minFreeGb: 0 });
  assert.match(server.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, 'the metrics port binds 127.0.0.1 by default');
  const url = server.metricsUrl as string;
  const h = await sdkHandshake(server.url, server.token);
  const body = (seed: number, score = 0.9) => monitorBody({ image: images[seed] as Buffer, width: 32, height: 24, champion: classification(0, score), latencyS: 0.02, filename: `f${seed}.jpg` });
  const images = await Promise.all([0, 1, 2].map((seed) => makeJpeg(32, 24, seed)));

  assert.equal((await postMonitor(h, body(0))).status, 201);
  assert.equal((await postMonitor(h, body(1))).status, 201);
  assert.equal((await postMonitor(h, body(1))).status, 409, 'the same image again');
  assert.equal((await postMonitor(h, body(2, 1.5))).status, 422, 'a score outside [0, 1]');

  const s = await scrape(`${url}/metrics`);
  assert.equal(s.status, 200);
  assert.match(s.contentType ?? '', /^text\/plain; version=0\.0\.4/);
  const route = '/oracle/api/deployment/{id}/predictions';
  assert.equal(s.sum('edgewatch_server_requests_total', { method: 'POST', route, status: '201' }), 2);
  assert.equal(s.sum('edgewatch_server_requests_total', { method: 'POST', route, status: '409' }), 1);
  assert.equal(s.sum('edgewatch_server_requests_total', { method: 'POST', route, status: '422' }), 1);
  assert.equal(s.sum('edgewatch_server_requests_total', { method: 'POST', route: '/oracle/api/auth/login', status: '200' }), 1);
  assert.equal(s.sum('edgewatch_server_requests_total', { method: 'GET', route: '/api/organization/{id}/deployments/find', status: '200' }), 1);
  assert.equal(s.sum('edgewatch_server_predictions_received_total', { deployment: 'demo', result: 'stored' }), 2);
  assert.equal(s.sum('edgewatch_server_predictions_received_total', { deployment: 'demo', result: 'duplicate' }), 1);
  assert.equal(s.sum('edgewatch_server_predictions_received_total', { deployment: 'demo', result: 'refused' }), 1);
  assert.equal(s.sum('edgewatch_server_ingest_seconds_count', { call: 'monitor' }), 4);
  assert.equal(s.sum('edgewatch_server_predictions', { deployment: 'demo' }), 2);
  assert.equal(s.sum('edgewatch_server_datalake_bytes'), images[0]!.length + images[1]!.length);
  assert.ok(s.sum('edgewatch_server_disk_free_bytes') > 0);
  assert.equal(s.sum('edgewatch_server_disk_min_free_bytes'), 0);
  assert.ok(s.has('process_cpu_user_seconds_total'), 'Node.js process metrics are there too');
  assert.ok(!s.text.includes(h.deploymentId) && !s.text.includes(h.organizationId), 'no raw id in any label');
  assert.ok(!s.text.includes(server.token), 'never the token');

  assert.deepEqual((await health(`${url}/healthz`)).status, 200);
  const ready = await health(`${url}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(ready.body.ready, true);
  assert.match(String(ready.body.reason), /database writable/);
  assert.equal((await fetch(`${url}/nothing`)).status, 404);
  assert.equal((await fetch(`${url}/metrics`, { method: 'POST' })).status, 405);

  // The main port serves the same page behind the API token.
  assert.equal((await scrape(`${server.url}/metrics`)).status, 401);
  assert.equal((await scrape(`${server.url}/metrics`, { authorization: 'Bearer wrong-token-123' })).status, 401);
  const main = await scrape(`${server.url}/metrics`, { authorization: `Bearer ${server.token}` });
  assert.equal(main.status, 200);
  assert.equal(main.sum('edgewatch_server_predictions_received_total', { deployment: 'demo', result: 'stored' }), 2);
  assert.equal(main.sum('edgewatch_server_requests_total', { method: 'GET', route: '/metrics', status: '401' }), 2, 'the refused scrapes are counted under their template');
});

test('serve /readyz: 503 with the reason when the disk is below --min-free-gb; /healthz stays 200', async (t) => {
  const { server } = await startTestServer(t, { metricsPort: 0, minFreeGb: 1e9 });
  const ready = await health(`${server.metricsUrl}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal(ready.body.ready, false);
  assert.match(String(ready.body.reason), /disk below its floor/);
  assert.equal((await health(`${server.metricsUrl}/healthz`)).status, 200, 'alive all the same');
  const s = await scrape(`${server.metricsUrl}/metrics`);
  assert.equal(s.sum('edgewatch_server_disk_min_free_bytes'), 1e18);
});

test('ServiceHealth: a database that cannot take a write (not a database) is not ready, with SQLite\'s code', async (t) => {
  const dir = await tempDir(t);
  const dbFile = join(dir, 'monitoring.db');
  await writeFile(dbFile, 'this is not a SQLite database, it is a text file long enough to have a header of its own.......');
  const disk = new DiskGuard({ folder: dir, minFreeBytes: 0, logger: SILENT });
  const h = new ServiceHealth({ dbFile, disk, minFreeBytes: 0, closing: () => false });
  t.after(() => h.close());
  const r = await h.readiness();
  assert.equal(r.ready, false);
  assert.match(r.reason, /^database not writable: SQLITE_NOTADB/);
});

test('serve: a metrics port already taken stops the start with EW_METRICS_LISTEN, and the main port is released', async (t) => {
  const taken = await takenPort(t);
  const dataDir = await tempDir(t);
  await assert.rejects(startServer(serveConfigSchema.parse({ dataDir, port: 0, metricsPort: taken })), (err: unknown) => isEdgewatchError(err, 'EW_METRICS_LISTEN') && /--metrics-port/.test((err as Error).message));
  // The data folder is free again: a second start on it works.
  const again = await startServer(serveConfigSchema.parse({ dataDir, port: 0 }));
  await again.close();
});

test('serve config: --metrics-port outside 0..65535 is EW_CONFIG_INVALID territory (zod refuses it)', () => {
  assert.equal(serveConfigSchema.safeParse({ metricsPort: 70000 }).success, false);
  assert.equal(serveConfigSchema.safeParse({ metricsPort: -1 }).success, false);
  assert.equal(serveConfigSchema.parse({}).metricsPort, undefined, 'off by default');
  assert.equal(serveConfigSchema.parse({}).metricsHost, '127.0.0.1');
});
