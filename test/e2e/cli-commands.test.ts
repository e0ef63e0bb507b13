/** The CLI's dispatch and what every command shares (src/commands/io.ts): help, version, error format and exit codes, signal handlers. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { onSignals, reportError, type Io } from '../../src/commands/io.js';
import { EdgewatchError, EXIT } from '../../src/errors.js';
import { AGENT_VERSION } from '../../src/version.js';
import { runCli } from '../helpers/cli.js';

function captureIo(): { io: Io; err: () => string } {
  const chunks: string[] = [];
  const err = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { io: { out: err, err, env: {} }, err: () => chunks.join('') };
}

test('every command answers --help with its usage and option table; --version; no or an unknown command exits 2', async () => {
  for (const [command, flag] of [['run', '--watch'], ['serve', '--data-dir'], ['demo', '--interval-ms'], ['outbox', '--state-dir'], ['models', '--dest']] as const) {
    const help = await runCli([command, '--help']);
    assert.equal(help.code, 0, `${command}: ${help.err}`);
    assert.match(help.out, new RegExp(`^edgewatch ${command} `), command);
    assert.ok(help.out.includes(flag), `${command} --help lists ${flag}`);
  }
  assert.deepEqual(await runCli(['--version']), { code: 0, out: `${AGENT_VERSION}\n`, err: '' });
  const none = await runCli([]);
  assert.equal(none.code, EXIT.CONFIG);
  assert.match(none.out, /Usage:/);
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, EXIT.CONFIG);
  assert.match(unknown.err, /^edgewatch: EW_USAGE: unknown command "frobnicate"/);
});

test('reportError: EW_* errors as `edgewatch: EW_CODE: message`, exit 2 before work starts and 1 for a failed pull; anything else exits 1 with its stack', () => {
  const cases: [unknown, number, RegExp][] = [
    [new EdgewatchError('EW_CONFIG_INVALID', 'Invalid configuration:\n  port: too big'), EXIT.CONFIG, /^edgewatch: EW_CONFIG_INVALID: Invalid configuration:\n {2}port: too big\n$/],
    [new EdgewatchError('EW_USAGE', 'unknown option'), EXIT.CONFIG, /^edgewatch: EW_USAGE: unknown option\n$/],
    [new EdgewatchError('EW_PULL_FAILED', 'npm pack failed'), EXIT.FAILURES, /^edgewatch: EW_PULL_FAILED: npm pack failed\n$/],
    [new EdgewatchError('EW_PULL_VERIFY', 'bad hash'), EXIT.FAILURES, /^edgewatch: EW_PULL_VERIFY: bad hash\n$/],
    [new TypeError('boom'), EXIT.FAILURES, /^edgewatch: unexpected error: TypeError: boom\n {4}at /],
  ];
  for (const [err, code, text] of cases) {
    const { io, err: written } = captureIo();
    assert.equal(reportError(err, io), code, String(err));
    assert.match(written(), text);
  }
});

test('onSignals: the first SIGINT/SIGTERM calls stop once; the returned function removes the handlers', async () => {
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const { io, err } = captureIo();
  let stops = 0;
  let stopped: () => void = () => undefined;
  const called = new Promise<void>((resolve) => (stopped = resolve));
  const remove = onSignals(io, async () => {
    stops += 1;
    stopped();
  });
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], [before[0]! + 1, before[1]! + 1]);
  process.emit('SIGTERM', 'SIGTERM');
  await called;
  assert.equal(stops, 1);
  assert.match(err(), /SIGTERM: finishing in-flight images, press Ctrl\+C again to force/);
  remove();
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);
});
