/** Nothing outside the dashboard whitelist and the datalake is served; the token stays out of pages and logs; dashboard sessions. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { serveConfigSchema, startServer, type ServerLogger } from '../../src/server/index.js';
import { classification, httpRequest, makeJpeg, monitorBody, postMonitor, sdkHandshake, startTestServer, tempDir } from './sdk.js';

/** GET with the path sent byte for byte (no client-side normalisation of `..`). */
function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('path traversal: only the whitelisted dashboard files and stored images are served', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const created = await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 1), width: 8, height: 8, champion: classification(0, 0.5), latencyS: 0.01 }));
  assert.equal(created.status, 201);
  const auth = { authorization: `Bearer ${server.token}` };
  const attempts = [
    '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/..%2f..%2f..%2fetc%2fpasswd',
    '/vendor/../../package.json',
    '/vendor/..%2f..%2fpackage.json',
    '/vendor/uPlot.iife.min.js/../../../../etc/passwd',
    '/token',
    '/jwt-secret',
    '/monitoring.db',
    '/datalake/demo',
    '/src/server/start-server.ts',
    '/node_modules/uplot/package.json',
    '/api/image/..%2f..%2fmonitoring.db',
    '/api/image/../../token',
    `/api/image/${created.json.id}/../../token`,
    '/app.js%00.png',
    '//etc/passwd',
  ];
  for (const path of attempts) {
    const res = await rawGet(server.port, path, auth);
    assert.ok(res.status === 404 || res.status === 400, `${path} → ${res.status}`);
    assert.ok(!res.text.includes('root:'), path);
    assert.ok(!res.text.includes(server.token), path);
  }
  for (const path of ['/', '/app.js', '/charts.js', '/style.css', '/favicon.svg', '/vendor/uPlot.iife.min.js', '/vendor/uPlot.min.css']) {
    assert.equal((await rawGet(server.port, path)).status, 200, path);
  }
  assert.equal((await rawGet(server.port, `/api/image/${created.json.id}`, auth)).status, 200);
});

test('the token never appears in pages, static files or logs; the page sends security headers', async (t) => {
  const logs: string[] = [];
  const capture = (level: string) => (obj: object, msg?: string) => logs.push(`${level} ${JSON.stringify(obj)} ${msg ?? ''}`);
  const logger: ServerLogger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
  const { server } = await startTestServer(t);
  const withLogs = await startServer(serveConfigSchema.parse({ dataDir: await tempDir(t), port: 0 }), { logger });
  const h = await sdkHandshake(withLogs.url, withLogs.token);
  await postMonitor(h, monitorBody({ image: await makeJpeg(8, 8, 2), width: 8, height: 8, champion: classification(0, 0.5), latencyS: 0.01 }));
  await postMonitor({ ...h, jwt: 'forged.jwt.value' }, '{}');
  await httpRequest(`${withLogs.url}/api/home/ping?token=${withLogs.token}`, { headers: { authorization: `Bearer ${withLogs.token}` } });
  await withLogs.close();
  assert.ok(logs.some((l) => l.includes('listening')), 'the logger was used');
  assert.ok(logs.some((l) => l.includes('"path":"/api/home/ping"')), 'request paths are logged without their query');
  for (const line of logs) assert.ok(!line.includes(withLogs.token), `token in log line: ${line.slice(0, 80)}`);
  assert.ok(!logs.join('\n').includes(h.jwt), 'JWT in logs');

  for (const path of ['/', '/app.js', '/charts.js', '/style.css']) {
    const res = await httpRequest(server.url + path);
    assert.ok(!res.text.includes(server.token), path);
  }
  const page = await httpRequest(`${server.url}/`);
  assert.match(page.headers['content-type'] as string, /text\/html/);
  assert.match(page.headers['content-security-policy'] as string, /script-src 'self'/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.ok(!server.dashboardUrl.includes(server.token), 'the dashboard link is not the token');
});

test('dashboard session: login-link key or token gives a cookie that reads stats; nothing else does', async (t) => {
  const { server } = await startTestServer(t);
  const h = await sdkHandshake(server.url, server.token);
  const key = new URL(server.dashboardUrl).hash.replace('#key=', '');
  assert.ok(key.length >= 20);
  const session = (body: unknown) => httpRequest(`${server.url}/api/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal((await session({ key: 'wrong' })).status, 401);
  assert.equal((await session({ token: 'wrong' })).status, 401);
  assert.equal((await session({})).status, 401);
  const ok = await session({ key });
  assert.equal(ok.status, 200);
  const cookie = String(ok.headers['set-cookie']);
  assert.match(cookie, /^ew_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
  assert.ok(!cookie.includes(server.token));
  const value = cookie.split(';')[0] as string;
  const stats = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`, { headers: { cookie: value } });
  assert.equal(stats.status, 200);
  assert.equal((await httpRequest(`${server.url}/api/dashboard/overview`, { headers: { cookie: value } })).json.organizations[0].deployments[0].name, 'demo');
  assert.equal((await httpRequest(`${server.url}/api/dashboard/overview`)).status, 401);
  assert.equal((await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/stats`, { headers: { cookie: 'ew_session=forged' } })).status, 401);
  // A session cookie cannot post predictions or use the platform API.
  assert.equal((await httpRequest(`${server.url}/api/home/ping`, { headers: { cookie: value } })).status, 401);
  const post = await httpRequest(`${server.url}/api/deployment/${h.deploymentId}/predictions`, { method: 'POST', headers: { cookie: value }, body: '{}' });
  assert.equal(post.status, 401);
  assert.equal((await session({ token: server.token })).status, 200);
});
