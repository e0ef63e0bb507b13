/** The API token and JWTs never appear in errors, outcomes or logs, even when a careless server echoes them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgewatchError } from '../../src/errors.js';
import { buildMonitorBody } from '../../src/monitor/monitor-body.js';
import type { MonitorLogger } from '../../src/monitor/picsellia-client.js';
import { Redactor, serverMessage } from '../../src/monitor/redactor.js';
import { startFakePicsellia } from '../helpers/fake-picsellia.js';
import { clientFor, makeJpeg, sampleInput } from './sample-body.js';

const TOKEN = 'SECRET-api-token-5f1c9a7e';

/** Every string an error exposes: message, stack, details, and the cause chain. */
function exposedText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? '', String(e));
      if (e instanceof EdgewatchError) parts.push(JSON.stringify(e.details));
      parts.push(JSON.stringify(Object.fromEntries(Object.entries(e))));
      e = e.cause;
    } else {
      parts.push(typeof e === 'string' ? e : JSON.stringify(e));
      break;
    }
  }
  return parts.join('\n');
}

function capturingLogger(lines: string[]): MonitorLogger {
  const log = (obj: object, msg: string) => lines.push(`${msg} ${JSON.stringify(obj)}`);
  return { warn: log, info: log, debug: log };
}

test('Redactor masks every secret, longest first, and sanitises causes', () => {
  const r = new Redactor(['abc']);
  r.add('abcdef');
  assert.equal(r.redact('x abcdef y abc z'), 'x [redacted] y [redacted] z');
  const cause = r.safeCause(Object.assign(new Error('failed with abc'), { code: 'E_X', secret: 'abc' }));
  assert.equal(cause.message, 'failed with [redacted]');
  assert.equal((cause as Error & { code: string }).code, 'E_X');
  assert.equal(Object.hasOwn(cause, 'secret'), false);
  assert.equal(serverMessage(JSON.stringify({ message: 'token abc refused' }), r), 'token [redacted] refused');
});

test('the API token and the JWTs never appear in errors, outcomes or logs', async (t) => {
  const fake = await startFakePicsellia({ apiToken: TOKEN, echoSecrets: true });
  t.after(() => fake.close());
  const lines: string[] = [];
  const logger = capturingLogger(lines);
  const exposed: string[] = [];
  const failures: string[] = [];
  const expectReject = async (name: string, p: Promise<unknown>): Promise<void> => {
    try {
      await p;
      failures.push(`${name}: did not fail`);
    } catch (err) {
      assert.ok(err instanceof EdgewatchError, `${name}: ${String(err)}`);
      exposed.push(exposedText(err));
    }
  };

  // A wrong token echoed back by the platform (a client holding a different secret).
  const wrongSecret = 'SECRET-wrong-token-0b7d';
  const wrong = clientFor(fake, { apiToken: wrongSecret, logger });
  await expectReject('platform 401 echo', wrong.resolve());
  await wrong.close();

  const client = clientFor(fake, { logger, requestTimeoutMs: 300 });
  t.after(() => client.close());
  // Platform failures whose bodies contain the token.
  fake.script('ping', { status: 500, body: { message: `internal error for ${TOKEN}` } });
  await expectReject('ping 500', client.resolve());
  fake.script('ping', { status: 200, body: { username: TOKEN } });
  await expectReject('ping shape', client.resolve());
  fake.script('ping', { status: 200, body: `not json ${TOKEN}` });
  await expectReject('ping not json', client.resolve());
  fake.script('organizationsFind', { status: 404, body: { message: `no org for ${TOKEN}`, detail: [TOKEN] } });
  await expectReject('org 404', client.resolve());
  fake.script('organization', { status: 403, body: `forbidden ${TOKEN}` });
  await expectReject('org 403', client.resolve());
  fake.script('deploymentsFind', { status: 200, body: { id: 'x', name: TOKEN, type: 1, oracle_host: TOKEN } });
  await expectReject('deployment shape', client.resolve());
  fake.script('ping', { drop: true });
  await expectReject('ping drop', client.resolve());
  const slow = fake.gate('ping');
  await expectReject('ping timeout', client.resolve());
  slow.release();
  // Login failures echoing the token, and a 200 whose body holds it.
  fake.script('login', { status: 401, body: { message: `bad ${TOKEN}` } });
  await expectReject('login 401', client.resolve());
  fake.script('login', { status: 200, body: { jwt: TOKEN } });
  await expectReject('login shape', client.resolve());
  fake.script('login', { status: 502, body: TOKEN });
  await expectReject('login 502', client.resolve());

  // Now resolved: every send outcome, with the server echoing the token and the JWT.
  await client.resolve();
  const jwt = fake.issuedJwts.at(-1)!;
  const jpeg = await makeJpeg();
  const body = (id: string) => buildMonitorBody(sampleInput(jpeg, id));
  const outcomes: unknown[] = [];
  fake.script('predictions', { status: 422, body: { message: `bad ${TOKEN} ${jwt}` } });
  outcomes.push(await client.sendPrediction(body('1')));
  fake.script('predictions', { status: 503, body: `down ${jwt}` });
  outcomes.push(await client.sendPrediction(body('2')));
  fake.script('predictions', { status: 409, body: { message: `dup ${jwt}` } });
  outcomes.push(await client.sendPrediction(body('3')));
  fake.script('predictions', { status: 401, body: { message: `expired ${jwt}` } });
  outcomes.push(await client.sendPrediction(body('4')));
  const jwt2 = fake.issuedJwts.at(-1)!;
  fake.script('predictions', { status: 401 }, { status: 401, body: { message: `still ${jwt2} ${TOKEN}` } });
  outcomes.push(await client.sendPrediction(body('5')));
  fake.script('predictions', { drop: true });
  outcomes.push(await client.sendPrediction(body('6')));
  fake.gate('predictions');
  outcomes.push(await client.sendPrediction(body('7')));
  fake.expireJwts();
  fake.script('login', { status: 401, body: `nope ${TOKEN}` });
  outcomes.push(await client.sendPrediction(body('8')));
  await client.close();
  outcomes.push(await client.sendPrediction(body('9')));

  assert.deepEqual(failures, []);
  assert.ok(exposed.length >= 12);
  assert.ok(lines.length > 0);
  const everything = [...exposed, JSON.stringify(outcomes), ...lines].join('\n');
  assert.ok(everything.includes('[redacted]'), 'the echoed secrets were seen and masked');
  for (const secret of [TOKEN, wrongSecret, ...fake.issuedJwts]) {
    assert.ok(!everything.includes(secret), `secret leaked: ${secret.slice(0, 8)}…`);
  }
  assert.deepEqual(
    (outcomes as Array<{ kind: string }>).map((o) => o.kind),
    ['rejected', 'retry', 'duplicate', 'delivered', 'rejected', 'retry', 'retry', 'retry', 'retry'],
  );
});
