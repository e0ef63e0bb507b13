/** Many agents posting at once lose nothing and hit no SQLite busy error; shutdown answers 503 and releases everything. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveConfigSchema, startServer } from '../../src/server/index.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir, waitFor } from './sdk.js';

test('8 concurrent clients × 25 posts (plus a retry of each): 200 stored, 200 × 409, no error', async (t) => {
  const { server, dataDir } = await startTestServer(t);
  const clients = 8;
  const perClient = 25;
  const bodies: string[][] = [];
  for (let c = 0; c < clients; c++) {
    bodies.push([]);
    for (let i = 0; i < perClient; i++) {
      const seed = c * perClient + i;
      const shadow = seed % 3 === 0 ? {} : { shadow: classification(seed % 4, 0.5), shadowLatencyS: 0.02 };
      bodies[c]?.push(JSON.stringify(monitorBody({ image: await makeJpeg(24, 16, seed), width: 24, height: 16, champion: classification(seed % 5, 0.7), latencyS: 0.01 + seed / 1e5, ...shadow, customMetadata: { edgewatch: { imageId: `c${c}-${i}` } } })));
    }
  }
  const statuses = new Map<number, number>();
  await Promise.all(
    bodies.map(async (list) => {
      const h = await sdkHandshake(server.url, server.token);
      for (const body of list) {
        const first = await postMonitor(h, body);
        statuses.set(first.status, (statuses.get(first.status) ?? 0) + 1);
        if (first.status !== 201) assert.fail(`unexpected ${first.status}: ${first.text}`);
      }
      // Every client replays its whole backlog concurrently, as an agent does after a lost response.
      const replies = await Promise.all(list.map((body) => postMonitor(h, body)));
      for (const r of replies) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }),
  );
  assert.deepEqual(Object.fromEntries(statuses), { 201: 200, 409: 200 });
  const h = await sdkHandshake(server.url, server.token);
  assert.equal(await server.store.count(h.deploymentId), 200);
  const files = (await readdir(join(dataDir, 'datalake'), { recursive: true })).filter((f) => f.endsWith('.jpg'));
  assert.equal(files.length, 200, 'one image per prediction, no leftovers from duplicate races');
  assert.equal((await readdir(join(dataDir, 'datalake'), { recursive: true })).filter((f) => f.endsWith('.tmp')).length, 0);
  const stats = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`, { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(stats.json.counts.predictions, 200);
});

test('the same image posted by 8 clients at the same moment is stored once', async (t) => {
  const { server, dataDir } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const body = JSON.stringify(monitorBody({ image: await makeJpeg(32, 32, 77), width: 32, height: 32, champion: classification(1, 0.7), latencyS: 0.01 }));
  const results = await Promise.all(Array.from({ length: 8 }, () => postMonitor(h, body)));
  assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
  assert.equal(await server.store.count(h.deploymentId), 1);
  assert.equal((await readdir(join(dataDir, 'datalake'), { recursive: true })).filter((f) => f.endsWith('.jpg')).length, 1);
});

test('close: an in-flight request completes, then the port is released; close is idempotent', async (t) => {
  const dataDir = await tempDir(t);
  const server = await startServer(serveConfigSchema.parse({ dataDir, port: 0 }));
  const h = await sdkHandshake(server.url, server.token);
  const body = Buffer.from(JSON.stringify(monitorBody({ image: await makeJpeg(16, 16, 5), width: 16, height: 16, champion: classification(0, 0.5), latencyS: 0.01 })));

  // A request whose body is only half sent when close() starts.
  const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(`${server.url}/api/deployment/${h.deploymentId}/predictions`, { method: 'POST', headers: { authorization: `Bearer ${h.jwt}`, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.write(body.subarray(0, 100));
    waitFor(() => server.inFlight === 1, 'the request to reach the handler').then(() => {
      closing = server.close();
      req.end(body.subarray(100));
    }, reject);
  });
  let closing: Promise<void> | undefined;
  const done = await inFlight;
  assert.equal(done.status, 201, done.text);
  assert.ok(closing);
  await closing;
  assert.equal(server.close(), closing, 'close() returns the same promise');
  await assert.rejects(httpRequest(`${server.url}/api/home/ping`, { headers: { authorization: `Bearer ${server.token}` } }), /ECONNREFUSED|ECONNRESET|socket hang up/);
});

test('503 to a request whose headers complete while shutting down', async (t) => {
  const dataDir = await tempDir(t);
  const server = await startServer(serveConfigSchema.parse({ dataDir, port: 0, shutdownTimeoutMs: 10_000 }));
  const h = await sdkHandshake(server.url, server.token);
  const open = async () => {
    const socket = connect(server.port, '127.0.0.1');
    t.after(() => socket.destroy());
    let output = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (output += d));
    const ended = new Promise<void>((r) => socket.once('close', () => r()));
    await new Promise<void>((r) => socket.once('connect', () => r()));
    return { socket, ended, output: () => output };
  };
  const late = await open();
  late.socket.write(`GET /api/home/ping HTTP/1.1\r\nHost: x\r\n`);
  const held = await open();
  held.socket.write(`POST /api/deployment/${h.deploymentId}/predictions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.jwt}\r\nContent-Length: 2\r\n\r\n{`);
  await waitFor(() => server.inFlight === 1, 'the held request to reach the handler');
  const closing = server.close();
  late.socket.write(`Authorization: Bearer ${server.token}\r\n\r\n`);
  await late.ended;
  held.socket.write('}');
  await held.ended;
  await closing;
  assert.match(late.output(), /^HTTP\/1\.1 503 /, 'a request completed after close() started gets 503');
  assert.match(late.output(), /"message":/);
  assert.match(held.output(), /^HTTP\/1\.1 422 /, 'the in-flight request was still answered (its body {} is not a prediction)');
});
