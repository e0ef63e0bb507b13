/** Issue 14, agent side: response bodies are capped (item 3) and a redirect is a configuration error that dead-letters nothing (item 10). */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { isEdgewatchError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { HttpExchange, MAX_RESPONSE_BYTES } from '../../src/monitor/http-exchange.js';
import { buildMonitorBody, serializeMonitorBody } from '../../src/monitor/monitor-body.js';
import { Redactor } from '../../src/monitor/redactor.js';
import { Sender } from '../../src/send/sender.js';
import { Outbox } from '../../src/state/outbox.js';
import { openStateDb } from '../../src/state/state-db.js';
import { times } from '../helpers/fake-picsellia.js';
import { tempDir } from '../helpers/images.js';
import { fakeAndClient, makeJpeg, sampleInput } from './sample-body.js';

/** A server whose every answer is 200 with a body that never ends (or that declares `declaredBytes`); counts what it wrote. */
async function endlessServer(t: TestContext, declaredBytes?: number): Promise<{ url: string; written: () => number }> {
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...(declaredBytes === undefined ? {} : { 'content-length': String(declaredBytes) }) });
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) written += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    req.resume();
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, written: () => written };
}

function exchange(t: TestContext): HttpExchange {
  const http = new HttpExchange({ requestTimeoutMs: 20_000, userAgent: 'edgewatch test', redactor: new Redactor([]) });
  t.after(() => http.close());
  return http;
}

test('item 3: a response body over the cap is cut and refused with EW_MONITOR_PROTOCOL, whether endless or declared', async (t) => {
  for (const declared of [undefined, 10 * 1024 ** 3]) {
    const server = await endlessServer(t, declared);
    const http = exchange(t);
    await assert.rejects(http.request('ping', 'GET', new URL(`${server.url}/api/home/ping`), {}), (err: unknown) => {
      assert.ok(isEdgewatchError(err));
      assert.equal(err.code, 'EW_MONITOR_PROTOCOL');
      assert.match(err.message, new RegExp(`more than ${MAX_RESPONSE_BYTES} bytes`));
      return true;
    });
    // The socket buffers let a few MB more through before the server notices; nothing near gigabytes.
    assert.ok(server.written() < 64 * 1024 * 1024, `the server wrote ${server.written()} bytes`);
  }
});

test('item 10: a redirect on predictions pauses sending, logs once with EW_MONITOR_REDIRECT, keeps the outbox, then recovers', async (t) => {
  const { fake, client } = await fakeAndClient(t);
  await client.resolve();
  const dir = await tempDir(t, 'ew-redirect-');
  const db = openStateDb(dir);
  t.after(() => db.close());
  const outbox = new Outbox(db, { maxEntries: 100, maxBytes: 1e7 });
  const jpeg = await makeJpeg();
  for (const id of ['a', 'b', 'c']) outbox.enqueue({ imageId: id, fileId: 1, body: serializeMonitorBody(buildMonitorBody(sampleInput(jpeg, id))), capturedAt: 1 });
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const redirects = 6;
  fake.script('predictions', ...times(redirects, { status: 301, headers: { location: 'https://monitor.example.com/oracle/api/deployment/x/predictions?token=secret' }, body: {} }));
  const sender = new Sender({
    outbox,
    concurrency: 1,
    backoffMs: () => 1,
    logger: createLogger({ level: 'debug', format: 'json', destination }),
    send: (entry) => client.sendPrediction(entry.body),
  });
  sender.start();
  await fake.waitFor(() => fake.requestsOf('predictions').length >= redirects);
  assert.deepEqual(outbox.counts().dead, 0, 'nothing dead-lettered');
  await sender.idle();
  await sender.close();
  assert.deepEqual(outbox.counts(), { queued: 0, delivered: 3, dead: 0, lateShadows: { queued: 0, delivered: 0, dead: 0 } });
  assert.equal(fake.predictions.length, 3);
  const errors = lines.filter((l) => (l.level as number) >= 50);
  assert.equal(errors.length, 1, 'one error line for the whole outage');
  assert.equal(errors[0]?.code, 'EW_MONITOR_REDIRECT');
  assert.match(String(errors[0]?.msg), /HTTP 301.*monitor\.example\.com.*configuration/);
  assert.ok(!JSON.stringify(lines).includes('token=secret'), 'the Location query is not logged');
  assert.ok(lines.some((l) => String(l.msg).includes('sending again')), 'the recovery is logged');
});

test('item 10 at start: a redirect from the platform or at login fails the resolution with EW_MONITOR_REDIRECT (a start-up error, not "unreachable")', async (t) => {
  for (const kind of ['ping', 'login'] as const) {
    const { fake, client } = await fakeAndClient(t);
    fake.script(kind, { status: 308, headers: { location: 'https://elsewhere.example.com/' }, body: {} });
    await assert.rejects(client.resolve(), (err: unknown) => {
      assert.ok(isEdgewatchError(err));
      assert.equal(err.code, 'EW_MONITOR_REDIRECT', kind);
      assert.match(err.message, /HTTP 308 \(redirect to https:\/\/elsewhere\.example\.com\/\)/);
      return true;
    });
  }
});
