/** Tests of PicselliaClient.resolve(): the SDK's start-up sequence against the fake, and its error codes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEdgewatchError, type ErrorCode } from '../../src/errors.js';
import { checkDeploymentType } from '../../src/monitor/deployment.js';
import { startFakePicsellia } from '../helpers/fake-picsellia.js';
import { clientFor, fakeAndClient } from './sample-body.js';

const hasCode = (code: ErrorCode) => (err: unknown): boolean => {
  assert.ok(isEdgewatchError(err), `not an EdgewatchError: ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return true;
};

test('happy sequence: exact requests, paths, queries and headers', async (t) => {
  const { fake, client } = await fakeAndClient(t);
  const target = await client.resolve();
  const { organization: org, deployment: dep } = fake.state;
  assert.deepEqual(
    fake.requests.map((r) => `${r.method} ${r.path} ${new URLSearchParams(r.query).toString()}`.trim()),
    [
      'GET /api/home/ping',
      'GET /api/organizations/find name=acme',
      `GET /api/organization/${org.id}`,
      `GET /api/organization/${org.id}/deployments/find name=line-3`,
      'POST /api/auth/login',
    ],
  );
  for (const r of fake.requests.slice(0, 4)) {
    assert.equal(r.headers.authorization, `Bearer ${fake.apiToken}`);
    assert.equal(r.headers['user-agent'], 'edgewatch/0.1.0 test');
    assert.equal(r.headers['x-picsellia-organization'], undefined);
    assert.equal(r.body.length, 0);
  }
  const login = fake.requests[4]!;
  assert.equal(login.headers.authorization, undefined);
  assert.equal(login.headers['content-type'], 'application/json');
  assert.equal(login.body.toString('utf8'), JSON.stringify({ api_token: fake.apiToken, deployment_id: dep.id }));
  assert.equal(fake.issuedJwts.length, 1);
  assert.deepEqual({ ...target, resolvedAt: 0 }, {
    organizationId: org.id, organizationName: 'acme', deploymentId: dep.id, deploymentName: 'line-3', type: 'CLASSIFICATION', oracleHost: fake.url, resolvedAt: 0,
  });
  assert.ok(target.resolvedAt > 0);
  assert.deepEqual(client.target, target);
  assert.deepEqual(fake.violations, []);
});

test('organization by id skips the name look-up', async (t) => {
  const orgId = '0190a0a0-0000-7000-8000-000000000001';
  const { fake, client } = await fakeAndClient(t, { organization: { id: orgId } }, { organization: undefined, organizationId: orgId });
  const target = await client.resolve();
  assert.equal(target.organizationId, orgId);
  assert.deepEqual(fake.requests.map((r) => r.kind), ['ping', 'organization', 'deploymentsFind', 'login']);
  assert.deepEqual(fake.violations, []);
});

test('no organization given: the ping default organization is used', async (t) => {
  const { fake, client } = await fakeAndClient(t, {}, { organization: undefined });
  const target = await client.resolve();
  assert.equal(target.organizationId, fake.state.organization.id);
  assert.deepEqual(fake.requests.map((r) => r.kind), ['ping', 'organization', 'deploymentsFind', 'login']);
});

test('no organization given and no default organization: EW_MONITOR_NOT_FOUND', async (t) => {
  const { client } = await fakeAndClient(t, { defaultOrganization: null }, { organization: undefined });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_NOT_FOUND'));
});

test('an organization with a default connector adds X-Picsellia-Organization afterwards', async (t) => {
  const { fake, client } = await fakeAndClient(t, { organization: { defaultConnectorId: '0190a0a0-0000-7000-8000-0000000000cc' } });
  await client.resolve();
  assert.equal(fake.requestsOf('deploymentsFind')[0]!.headers['x-picsellia-organization'], fake.state.organization.id);
});

test('a path prefix in the oracle host and the platform host is dropped', async (t) => {
  const fake = await startFakePicsellia({ oracleHost: (url) => `${url}/prefix/deep` });
  const client = clientFor(fake, { host: `${fake.url}/some/prefix/` });
  t.after(async () => {
    await client.close();
    await fake.close();
  });
  const target = await client.resolve();
  assert.equal(target.oracleHost, `${fake.url}/prefix/deep`);
  assert.deepEqual(fake.violations, []);
  assert.equal(fake.requestsOf('login').length, 1);
  assert.ok(fake.requests.every((r) => r.path.startsWith('/api/')));
});

test('unknown organization name: EW_MONITOR_NOT_FOUND', async (t) => {
  const { client } = await fakeAndClient(t, {}, { organization: 'nope' });
  await assert.rejects(client.resolve(), (err) => hasCode('EW_MONITOR_NOT_FOUND')(err) && /nope/.test((err as Error).message));
});

test('unknown organization id: EW_MONITOR_NOT_FOUND', async (t) => {
  const { client } = await fakeAndClient(t, {}, { organization: undefined, organizationId: '0190a0a0-0000-7000-8000-00000000dead' });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_NOT_FOUND'));
});

test('unknown deployment: EW_MONITOR_NOT_FOUND', async (t) => {
  const { client } = await fakeAndClient(t, {}, { deployment: 'ghost' });
  await assert.rejects(client.resolve(), (err) => hasCode('EW_MONITOR_NOT_FOUND')(err) && /ghost/.test((err as Error).message));
});

test('a look-up answered 200 without id: EW_MONITOR_NOT_FOUND', async (t) => {
  const { fake, client } = await fakeAndClient(t);
  fake.script('deploymentsFind', { status: 200, body: { name: 'line-3' } });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_NOT_FOUND'));
});

test('oracle_host null: EW_MONITOR_NOT_ENABLED, no login attempted', async (t) => {
  const { fake, client } = await fakeAndClient(t, { oracleHost: null });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_NOT_ENABLED'));
  assert.equal(fake.requestsOf('login').length, 0);
});

test('bad API token: EW_MONITOR_AUTH at the ping', async (t) => {
  const { client } = await fakeAndClient(t, {}, { apiToken: 'not-the-token' });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_AUTH'));
});

test('403 from the platform: EW_MONITOR_AUTH', async (t) => {
  const { fake, client } = await fakeAndClient(t);
  fake.script('organization', { status: 403, body: { message: 'forbidden' } });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_AUTH'));
});

test('ping failures: 500 → EW_MONITOR_HTTP, drop → EW_MONITOR_CONNECT', async (t) => {
  const { fake, client } = await fakeAndClient(t);
  fake.script('ping', { status: 500, body: { message: 'boom', detail: ['db down'] } });
  await assert.rejects(client.resolve(), (err) => hasCode('EW_MONITOR_HTTP')(err) && /boom: db down/.test((err as Error).message));
  fake.script('ping', { drop: true });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_CONNECT'));
});

test('malformed platform answers: EW_MONITOR_PROTOCOL', async (t) => {
  const { fake, client } = await fakeAndClient(t);
  const bad: Array<[Parameters<typeof fake.script>[0], unknown]> = [
    ['ping', 'not json'],
    ['ping', { username: 'edge' }], // default_organization key must be present
    ['organization', { id: fake.state.organization.id }], // name missing
    ['deploymentsFind', { id: fake.state.deployment.id, name: 'line-3', oracle_host: fake.url }], // type missing
  ];
  for (const [kind, body] of bad) {
    fake.script(kind, { status: 200, body });
    await assert.rejects(client.resolve(), hasCode('EW_MONITOR_PROTOCOL'), `${kind} ${JSON.stringify(body)}`);
  }
});

test('platform unreachable: EW_MONITOR_CONNECT', async (t) => {
  const fake = await startFakePicsellia();
  const url = fake.url;
  await fake.close();
  const client = clientFor(fake, { host: url });
  t.after(() => client.close());
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_CONNECT'));
});

test('login failures: 401 → EW_MONITOR_AUTH, 503 → EW_MONITOR_HTTP, 200 without jwt → EW_MONITOR_PROTOCOL, 201 → not accepted', async (t) => {
  const { fake, client } = await fakeAndClient(t);
  fake.script('login', { status: 401, body: { message: 'bad token' } });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_AUTH'));
  fake.script('login', { status: 503 });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_HTTP'));
  fake.script('login', { status: 200, body: { token: 'x', expires: 1 } });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_PROTOCOL'));
  fake.script('login', { status: 200, body: { jwt: 'x' } });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_PROTOCOL'));
  fake.script('login', { status: 201, body: { jwt: 'x', expires: 1 } });
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_HTTP'));
  await client.resolve();
  assert.deepEqual(fake.violations, []);
});

test('a slow platform: EW_MONITOR_TIMEOUT', async (t) => {
  const { fake, client } = await fakeAndClient(t, {}, { requestTimeoutMs: 200 });
  const gate = fake.gate('ping');
  t.after(() => gate.release());
  await assert.rejects(client.resolve(), hasCode('EW_MONITOR_TIMEOUT'));
});

test('the client signal aborts a pending request: EW_MONITOR_CONNECT', async (t) => {
  const controller = new AbortController();
  const { fake, client } = await fakeAndClient(t, {}, { signal: controller.signal });
  const gate = fake.gate('ping');
  t.after(() => gate.release());
  const pending = client.resolve();
  await gate.arrived;
  controller.abort();
  await assert.rejects(pending, hasCode('EW_MONITOR_CONNECT'));
});

test('checkDeploymentType: equal passes, different throws EW_MONITOR_TYPE_MISMATCH', async (t) => {
  const { client } = await fakeAndClient(t, { deployment: { type: 'OBJECT_DETECTION' } });
  const target = await client.resolve();
  assert.equal(target.type, 'OBJECT_DETECTION');
  checkDeploymentType(target, 'OBJECT_DETECTION');
  assert.throws(
    () => checkDeploymentType(target, 'CLASSIFICATION'),
    (err) => hasCode('EW_MONITOR_TYPE_MISMATCH')(err) && /OBJECT_DETECTION/.test((err as Error).message) && /CLASSIFICATION/.test((err as Error).message),
  );
  assert.throws(() => checkDeploymentType({ ...target, type: 'NOT_CONFIGURED' }, 'SEGMENTATION'), hasCode('EW_MONITOR_TYPE_MISMATCH'));
});

test('a host that is not a URL: EW_CONFIG_INVALID', () => {
  assert.throws(
    () => clientFor({ url: 'not a url', apiToken: 't', state: { organization: { name: 'a' }, deployment: { name: 'd' } } } as never),
    hasCode('EW_CONFIG_INVALID'),
  );
});
