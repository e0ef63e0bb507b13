/** A client written from DESIGN.md §2 alone, in Python's standard library (as the SDK would talk), against the embedded service. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { serveConfigSchema, startServer } from '../../src/server/index.js';
import { tempDir, writeJpeg } from '../helpers/images.js';

const run = promisify(execFile);

test('a Python client written from DESIGN.md can ping, find, log in, monitor, get 409 on a repeat and read stats', async (t) => {
  const dir = await tempDir(t);
  const server = await startServer(serveConfigSchema.parse({ dataDir: join(dir, 'data'), port: 0, organization: 'acme', deployment: ['line-3:CLASSIFICATION'] }), {});
  t.after(() => server.close());
  const image = await writeJpeg(dir, 'frame_320x200.jpg', { width: 320, height: 200 });
  const script = new URL('../fixtures/design_client.py', import.meta.url).pathname;
  const { stdout } = await run('python3', [script, server.url, server.token, 'acme', 'line-3', image]);
  const result = JSON.parse(stdout.trim()) as Record<string, unknown>;
  assert.equal(result.first, 201);
  assert.match(String(result.id), /^[0-9a-f-]{36}$/);
  assert.equal(result.second, 409);
  assert.equal(typeof result.message, 'string');
  assert.equal(result.stats_status, 200);
  assert.equal(result.predictions, 1);
});
