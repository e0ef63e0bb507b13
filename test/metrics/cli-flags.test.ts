/** The metrics flags through the CLI: a bad port is EW_CONFIG_INVALID, a port taken is EW_METRICS_LISTEN; both exit 2 before any model loads. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { takenPort } from '../helpers/ports.js';
import { DEMO_CHAMPION, tempFolder } from '../helpers/service.js';

const runArgs = (dir: string) => ['run', '--watch', dir, '--champion', DEMO_CHAMPION, '--deployment', 'demo', '--host', 'http://127.0.0.1:9', '--state-dir', join(dir, 'state'), '--log-level', 'silent'];

test('run --metrics-port 70000 / abc: EW_CONFIG_INVALID naming the key, exit 2', async (t) => {
  const dir = await tempFolder(t);
  for (const bad of ['70000', 'abc', '-1']) {
    const r = await runCli([...runArgs(dir), `--metrics-port=${bad}`], { PICSELLIA_API_TOKEN: 'token-123' });
    assert.equal(r.code, 2, `${bad}: ${r.err}`);
    assert.match(r.err, /EW_CONFIG_INVALID/);
    assert.match(r.err, /metricsPort|metrics-port/);
  }
  const serve = await runCli(['serve', '--metrics-port', '70000', '--data-dir', join(dir, 'srv')]);
  assert.equal(serve.code, 2);
  assert.match(serve.err, /EW_CONFIG_INVALID/);
});

test('run --metrics-port on a port already taken: EW_METRICS_LISTEN, exit 2, before the models load', async (t) => {
  const dir = await tempFolder(t);
  const port = String(await takenPort(t));
  const r = await runCli([...runArgs(dir), '--metrics-port', port], { PICSELLIA_API_TOKEN: 'token-123' });
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /EW_METRICS_LISTEN: Cannot serve metrics on 127\.0\.0\.1:\d+: EADDRINUSE\. Choose another --metrics-port or --metrics-host\./);
  assert.ok(!r.err.includes('token-123'));
});
